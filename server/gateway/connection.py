"""One WebSocket connection: a bounded send queue drained by its own writer task.

Nothing ever awaits a client's socket except that writer, so a slow client can stall
only itself; when its queue fills (in frames or in bytes, see send_budget.py) it is
closed (1013) and will resume from its last seq.

An idle connection is most connections (docs/benchmarks.md, idle): the queue is a plain
list, the writer task exists only while there is something to write, and the future a
sender waits on for room is made only when one waits, so a held connection costs little
more than Sanic's own objects.
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
from server.errors import CloseCode
from server.gateway.send_budget import NodeSendBudget
from server.ids import new_id
from server.kernel.actors import Actor, ConversationRef
from server.observability import metrics
from server.security.ratelimit import SlidingWindow
from steadywire.server_frames import Error

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
        self._pending: list[bytes] = []  # frames not yet handed to the writer
        self._room: asyncio.Future[None] | None = None  # resolved when the queue is half empty
        self._writer: asyncio.Task[None] | None = None  # only while the socket holds us up
        self._flush_soon = False  # a _flush is scheduled
        self._closer: asyncio.Task[None] | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self.closing = False
        self._batched_writes = all(hasattr(ws, name) for name in _SANIC_INTERNALS)

    def start(self) -> None:
        """Nothing to start: the writer task is made by the first frame pushed."""

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
        if len(self._pending) >= self.queue_frames:
            self.shed("send queue full, resume")
            return
        self._pending.append(frame)
        self.held_bytes += size
        if self._node_budget is not None:
            self._node_budget.add(self, size)
        if self._writer is None and not self._flush_soon and not self.closing:
            # (not closing: the budget may have shed it.) Later in this loop iteration,
            # so the frames pushed meanwhile (a batch's acks, a burst) go in one write.
            self._flush_soon = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Write what is pending. When the socket takes it at once (the common case) it
        is written here, in one write: no task per frame or burst. The writer task takes
        over when the socket is paused or busy, or more than one write's worth waits."""
        self._flush_soon = False
        if self._writer is not None or not self._pending:
            return
        if self._writable_now():
            frames = self._next_batch()
            size = sum(len(frame) for frame in frames)
            try:
                self._write_now(frames)
            except Exception:  # the socket went away: the reader sees it and cleans up
                self.closing = True
            finally:
                self._released(size)
            del frames
            if not self._pending or self.closing:
                self._wake()
                return
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    def _writable_now(self) -> bool:
        ws = self.ws
        if not self._batched_writes or ws.conn_mutex.locked():
            return False
        io = ws.io_proto
        can_write = getattr(io, "_can_write", None)  # Sanic's flow control (pause_writing)
        return (
            io is not None
            and can_write is not None
            and can_write.is_set()
            and io.transport is not None
            and not io.transport.is_closing()
            and ws.ws_proto.state is State.OPEN
        )

    def _write_now(self, frames: list[bytes]) -> None:
        """What ``_write`` does under Sanic's lock, when nobody holds it and the socket
        takes data: nothing awaits between the check and the write."""
        ws = self.ws
        io = ws.io_proto
        assert io is not None and io.transport is not None  # _writable_now
        for frame in frames:
            ws.ws_proto.send_text(frame)
        io.transport.write(b"".join(ws.ws_proto.data_to_send()))
        io._time = time.monotonic()  # as Sanic's send does

    def shed(self, reason: str) -> None:
        """A client that does not keep up: drop what waits for it and close 1013 (it
        resumes from its last seq)."""
        if self.closing:
            return
        metrics.SLOW_CONSUMERS.inc()
        log.info("closing slow consumer %s (%s): %s", self.session, self.actor.id, reason)
        self._drop_pending()
        # It does not read: no flush, no waiting for its close frame to drain.
        self.closing = True
        self._wake()
        if self._writer is not None:
            self._writer.cancel()
        metrics.CLOSES.labels(str(int(CloseCode.TRY_AGAIN_LATER))).inc()
        self.ws.fail_connection(CloseCode.TRY_AGAIN_LATER, reason)

    def _drop_pending(self) -> None:
        dropped = sum(len(frame) for frame in self._pending)
        self._pending = []
        self._released(dropped)

    def _wake(self) -> None:
        """Wake whoever waits for room (the queue drained, or nobody will drain it)."""
        room, self._room = self._room, None
        if room is not None and not room.done():
            room.set_result(None)

    def _released(self, size: int) -> None:
        if size:
            self.held_bytes -= size
            if self._node_budget is not None:
                self._node_budget.release(self, size)

    def push_json(self, frame: dict[str, Any]) -> None:
        self.push(dumps(frame))

    def error(
        self,
        code: str,
        message: str,
        *,
        extra: dict[str, Any] | None = None,
        cid: object = None,
        conv: object = None,
    ) -> None:
        """``cid``, ``conv``: what the frame was about (non-strings from a client are
        dropped); ``extra``: the error's own detail (``SteadyError.extra``)."""
        metrics.ERRORS.labels(code).inc()
        frame = Error(code, message, _text_or_none(cid), _text_or_none(conv), extra or {})
        self.push_json(frame.to_wire())

    async def wait_for_room(self) -> None:
        """Until the send queue is at most half full, or the connection is closing."""
        while len(self._pending) > self.queue_frames // 2 and not self.closing:
            if self._room is None:
                self._room = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._room)  # shared by every waiter: none may cancel it

    def _next_batch(self) -> list[bytes]:
        """Up to WRITE_BATCH_FRAMES frames and about WRITE_BATCH_BYTES, in order."""
        pending = self._pending
        count, size = 0, 0
        limit = min(len(pending), WRITE_BATCH_FRAMES)
        while count < limit and size < WRITE_BATCH_BYTES:
            size += len(pending[count])
            count += 1
        if count == len(pending):
            self._pending = []
            return pending
        batch = pending[:count]
        del pending[:count]
        return batch

    async def _write_loop(self) -> None:
        """Write what is pending, then end (push starts another when frames come)."""
        try:
            while self._pending:
                frames = self._next_batch()
                if len(self._pending) <= self.queue_frames // 2:
                    self._wake()
                size = sum(len(frame) for frame in frames)
                try:
                    await self._write(frames)
                finally:
                    self._released(size)
                del frames  # an idle connection keeps no copy of what it sent
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket went away: the reader sees it and cleans up
            self.closing = True
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None
            self._wake()  # nobody waits for a queue that is no longer drained

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
            self._wake()
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
        if self._writer is None and self._pending:
            self._flush()  # frames pushed just before the close go out first
        writer = self._writer
        if writer and not writer.done():  # it ends once what is queued is sent
            try:
                await asyncio.wait_for(asyncio.shield(writer), CLOSE_TIMEOUT_SECS)
            except (TimeoutError, asyncio.CancelledError, Exception):
                writer.cancel()
        try:
            await asyncio.wait_for(self.ws.close(code, reason), CLOSE_TIMEOUT_SECS)
        except Exception:
            self.ws.fail_connection(code, reason)

    def stop_writer(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        self.closing = True  # the handler has ended: nothing more is queued for it
        self._drop_pending()
        self._wake()
        if self._writer and not self._writer.done():
            self._writer.cancel()


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
