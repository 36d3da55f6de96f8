"""One WebSocket connection: a bounded send queue drained by its own writer task.

Nothing ever awaits a client's socket except that writer, so a slow client can stall
only itself; when its queue fills (in frames or in bytes, see send_budget.py) it is
closed (1013) and will resume from its last seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.protocol import State

from server.chat.bridge_feed import BridgeFeed
from server.chat.delivery import StreamCursor
from server.chat.records import Actor, ConversationRef
from server.errors import CloseCode
from server.gateway.send_budget import NodeSendBudget
from server.ids import new_id
from server.observability import metrics
from server.security.ratelimit import SlidingWindow

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_SECS = 2.0
WRITE_BATCH_FRAMES = 256
WRITE_BATCH_BYTES = 256 * 2**10  # one write; Sanic waits for the transport to drain after

# Sanic's send() costs a lock, a frame and a socket write per message; under load a
# connection's queue holds several frames, and writing them together saves the syscalls.
# This leans on Sanic's protocol attributes, so it is used only when they are there.
_SANIC_INTERNALS = ("conn_mutex", "ws_proto", "io_proto")


def dumps(frame: dict[str, Any]) -> bytes:
    """A frame as UTF-8 JSON text, ready for the socket."""
    return orjson.dumps(frame)


class Connection:
    def __init__(
        self,
        ws: WebsocketImplProtocol,
        actor: Actor,
        *,
        queue_frames: int,
        send_rate: SlidingWindow,
        bad_frames: SlidingWindow,
        sync_rate: SlidingWindow | None = None,
        signal_rate: SlidingWindow | None = None,
        queue_bytes: int = 2 * 2**20,
        node_budget: NodeSendBudget | None = None,
    ):
        self.ws = ws
        self.actor = actor
        self.session = new_id()
        self.kind = actor.type.value
        self.send_rate = send_rate
        self.bad_frames = bad_frames
        self.sync_rate = sync_rate or SlidingWindow(10**9, 1.0)
        self.signal_rate = signal_rate or SlidingWindow(10**9, 1.0)  # read and typing
        self.held_bytes = 0  # queued or being written
        self._queue_bytes = queue_bytes
        self._node_budget = node_budget
        self.body_max_chars: int | None = None  # the tenant's limit, when below the node's
        self.cursors: dict[str, StreamCursor] = {}
        self.refs: dict[str, ConversationRef] = {}
        self.topics: set[str] = set()
        self.bridge: BridgeFeed | None = None  # a bridge's connection (docs/bridges.md)
        self.queue_frames = queue_frames
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=queue_frames)
        self._room = asyncio.Event()  # set while the queue is at most half full
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self.closing = False
        self._batched_writes = all(hasattr(ws, name) for name in _SANIC_INTERNALS)

    def start(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    def expire_at(self, epoch_secs: float) -> None:
        """Close 4401 when the token this connection was opened with expires: the client
        logs in (or opens a session) again and resumes."""
        delay = max(0.0, epoch_secs - time.time())
        self._expiry = asyncio.get_running_loop().call_later(
            delay, self.close_soon, CloseCode.BAD_TOKEN, "token expired"
        )

    def push(self, frame: bytes) -> None:
        if self.closing:
            return
        size = len(frame)
        if self.held_bytes and self.held_bytes + size > self._queue_bytes:
            self.shed("send buffer full, resume")
            return
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.shed("send queue full, resume")
            return
        self.held_bytes += size
        if self._node_budget is not None:
            self._node_budget.add(self, size)

    def shed(self, reason: str) -> None:
        """A client that does not keep up: drop what waits for it and close 1013 (it
        resumes from its last seq)."""
        if self.closing:
            return
        metrics.SLOW_CONSUMERS.inc()
        log.info("closing slow consumer %s (%s): %s", self.session, self.actor.id, reason)
        dropped = 0
        while not self._queue.empty():
            frame = self._queue.get_nowait()
            dropped += len(frame) if frame is not None else 0
        self._released(dropped)
        # It does not read: no flush, no waiting for its close frame to drain.
        self.closing = True
        if self._writer is not None:
            self._writer.cancel()
        metrics.CLOSES.labels(str(int(CloseCode.TRY_AGAIN_LATER))).inc()
        self.ws.fail_connection(CloseCode.TRY_AGAIN_LATER, reason)

    def _released(self, size: int) -> None:
        if size:
            self.held_bytes -= size
            if self._node_budget is not None:
                self._node_budget.release(self, size)

    def push_json(self, frame: dict[str, Any]) -> None:
        self.push(dumps(frame))

    def error(
        self, code: str, message: str, *, extra: dict[str, Any] | None = None, **about: Any
    ) -> None:
        """``about``: what the frame was about (cid, conv; non-strings from a client are
        dropped); ``extra``: the error's own detail (``SteadyError.extra``)."""
        metrics.ERRORS.labels(code).inc()
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        frame.update({k: v for k, v in about.items() if isinstance(v, str) and v})
        if extra:
            frame.update(extra)
        self.push_json(frame)

    async def wait_for_room(self) -> None:
        """Until the send queue is at most half full, or the connection is closing."""
        while self._queue.qsize() > self.queue_frames // 2 and not self.closing:
            self._room.clear()
            await self._room.wait()

    async def _write_loop(self) -> None:
        queue = self._queue
        try:
            while True:
                first = await queue.get()
                frames = [first]
                size = len(first) if first is not None else 0
                while (
                    len(frames) < WRITE_BATCH_FRAMES
                    and size < WRITE_BATCH_BYTES
                    and not queue.empty()
                ):
                    frame = queue.get_nowait()
                    frames.append(frame)
                    size += len(frame) if frame is not None else 0
                if queue.qsize() <= self.queue_frames // 2:
                    self._room.set()
                stop = None in frames
                if stop:
                    frames = frames[: frames.index(None)]
                if frames:
                    try:
                        await self._write(frames)  # type: ignore[arg-type]
                    finally:
                        self._released(size)
                if stop:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket went away: the reader sees it and cleans up
            self.closing = True
        finally:
            self._room.set()  # nobody waits for a queue that is no longer drained

    async def _write(self, frames: list[bytes]) -> None:
        """Encode queued frames and hand them to the socket in one write (one syscall)."""
        ws = self.ws
        if not self._batched_writes:
            for frame in frames:
                await ws.send(frame.decode())
            return
        async with ws.conn_mutex:
            io = ws.io_proto
            if io is None or ws.ws_proto.state is not State.OPEN:
                raise ConnectionError("websocket is not open")
            for frame in frames:
                ws.ws_proto.send_text(frame)
            await io.send(b"".join(ws.ws_proto.data_to_send()))

    def close_soon(self, code: int, reason: str = "") -> asyncio.Task[None]:
        """Start closing with ``code`` (the first caller's code wins); idempotent."""
        if self._closer is None:
            self.closing = True
            self._room.set()
            self._closer = asyncio.get_running_loop().create_task(self._close(code, reason))
        return self._closer

    async def close(self, code: int, reason: str = "") -> None:
        await asyncio.shield(self.close_soon(code, reason))

    async def wait_closed(self) -> None:
        """Let a close in progress send its close frame before the handler returns
        (Sanic would otherwise close the socket itself, with 1000)."""
        if self._closer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._closer), 2 * CLOSE_TIMEOUT_SECS + 1)

    async def _close(self, code: int, reason: str) -> None:
        """Flush what is queued (briefly), then close with ``code``."""
        metrics.CLOSES.labels(str(code)).inc()
        if self._writer and not self._writer.done():
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), CLOSE_TIMEOUT_SECS)
            except (TimeoutError, asyncio.CancelledError, Exception):
                self._writer.cancel()
        try:
            await asyncio.wait_for(self.ws.close(code, reason), CLOSE_TIMEOUT_SECS)
        except Exception:
            self.ws.fail_connection(code, reason)

    def stop_writer(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        dropped = 0
        while not self._queue.empty():
            frame = self._queue.get_nowait()
            dropped += len(frame) if frame is not None else 0
        self._released(dropped)
        if self._writer and not self._writer.done():
            self._writer.cancel()
