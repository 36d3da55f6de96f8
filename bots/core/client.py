"""The bridge's one link to Steadydesk: the agent WebSocket (with a bridge token) and REST.

The client keeps a connection up and hands every frame, typed by :mod:`steadywire`, to a
:class:`ServerListener`, one at a time and in order (the listener's awaits are the
backpressure). It knows nothing of threads or outboxes: on every (re)connect it asks the
listener for the ``resume`` map, and the listener re-sends what is still unacknowledged.

* Reconnects with exponential backoff and jitter; at once on close 1012/1013 (at most
  once in 5 s); a breaker (``server``) stops a retry storm while the server is down.
* Close 4401 (the bridge token is revoked or wrong) ends :meth:`run` with
  :class:`BridgeRevoked`: a bridge cannot fix that by retrying.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from bots.core.backoff import Backoff
from bots.core.breakers import BreakerOpen, Breakers
from steadywire import (
    Ack,
    BadFrame,
    Batch,
    ClientFrame,
    CloseCode,
    Error,
    Event,
    Hello,
    Message,
    Welcome,
    dumps_text,
    parse_server_frame,
)

log = logging.getLogger(__name__)

CLIENT_NAME = "steadydesk-bridge/1.0"
INSTANT_RETRY_EVERY_SECS = 5.0
MAX_FRAME_BYTES = 32 * 2**20
SERVER_BREAKER = "server"


class BridgeRevoked(Exception):
    """The server refused the bridge token (close 4401)."""


class NotConnected(Exception):
    """The WebSocket is down; the frame was not sent."""


class ApiError(Exception):
    """A REST call failed: ``status`` 0 means the server could not be reached."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ServerListener(Protocol):
    async def on_welcome(self, welcome: Welcome) -> None: ...
    async def on_messages(self, conv: str, messages: list[Message], *, more: bool) -> None: ...
    async def on_event(self, event: Event) -> None: ...
    async def on_ack(self, ack: Ack) -> None: ...
    async def on_error(self, error: Error) -> None: ...
    def on_link(self, ok: bool, problem: str) -> None: ...


def websocket_url(server_url: str) -> str:
    base = server_url.rstrip("/")
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if base.startswith(http):
            return ws + base.removeprefix(http)
    return base


class SteadyClient:
    def __init__(
        self,
        server_url: str,
        token: str,
        listener: ServerListener,
        resume: Callable[[], Awaitable[dict[str, int]]],
        breakers: Breakers,
        *,
        backoff: Backoff | None = None,
        ping_interval_secs: float = 20.0,
        http_timeout_secs: float = 10.0,
        on_retry: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.token = token
        self.listener = listener
        self.resume = resume
        self.breakers = breakers
        self.backoff = backoff or Backoff()
        self.ping_interval_secs = ping_interval_secs
        self.on_retry = on_retry
        self._http = httpx.AsyncClient(
            base_url=self.server_url,
            timeout=http_timeout_secs,
            headers={"User-Agent": CLIENT_NAME, "Authorization": f"Bearer {token}"},
        )
        # Attachments' signed URLs, fetched without the token (one may be an S3 store's).
        # Kept for the bridge's life: a client made per file cost 15-30 ms of this loop.
        self._files = httpx.AsyncClient(
            base_url=self.server_url,
            timeout=http_timeout_secs,
            headers={"User-Agent": CLIENT_NAME},
        )
        self._ws: ClientConnection | None = None
        self._live = False
        self._stop = asyncio.Event()
        self._last_instant = -INSTANT_RETRY_EVERY_SECS
        self.node = ""

    @property
    def live(self) -> bool:
        return self._live

    # -- the connection loop ----------------------------------------------------------
    async def run(self) -> None:
        """Stay connected until :meth:`stop`; raises BridgeRevoked on close 4401."""
        while not self._stop.is_set():
            code, reason = await self._attempt()
            if code == CloseCode.BAD_TOKEN:
                self.listener.on_link(False, "bridge token refused (revoked?)")
                raise BridgeRevoked(reason or "the server refused the bridge token")
            if self._stop.is_set():
                break
            self.listener.on_link(False, reason or f"closed ({code})")
            now = time.monotonic()
            if code in (CloseCode.SERVICE_RESTART, CloseCode.TRY_AGAIN_LATER) and (
                now - self._last_instant >= INSTANT_RETRY_EVERY_SECS
            ):
                self._last_instant, delay = now, 0.0
            else:
                delay = self.backoff.next_delay()
            self.on_retry("reconnect")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _attempt(self) -> tuple[int | None, str]:
        """One connection, from connect to close: (close code or None, reason)."""
        try:
            async with self.breakers.guard(SERVER_BREAKER):
                ws = await connect(
                    websocket_url(self.server_url) + "/ws/agent",
                    open_timeout=10,
                    ping_interval=self.ping_interval_secs,
                    max_size=MAX_FRAME_BYTES,
                    user_agent_header=CLIENT_NAME,
                )
        except BreakerOpen as exc:
            await asyncio.sleep(0)  # the backoff in run() spaces the next try
            return None, str(exc)
        except InvalidStatus as exc:
            return None, f"HTTP {exc.response.status_code}"
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            return None, f"cannot connect: {exc or type(exc).__name__}"
        try:
            return await self._session(ws)
        finally:
            self._live = False
            self._ws = None

    async def _session(self, ws: ClientConnection) -> tuple[int | None, str]:
        self._ws = ws
        try:
            resume = await self.resume()
            await ws.send(dumps_text(Hello(self.token, resume, CLIENT_NAME)))
            async for raw in ws:
                await self._dispatch(raw)
        except ConnectionClosed:
            pass
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
        code = ws.close_code if ws.close_code is not None else 1006
        return code, ws.close_reason or ""

    async def stop(self) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 3)

    async def aclose(self) -> None:
        await self.stop()
        await self._http.aclose()
        await self._files.aclose()

    # -- frames in --------------------------------------------------------------------
    async def _dispatch(self, raw: str | bytes) -> None:
        try:
            frame = parse_server_frame(raw)
        except BadFrame as exc:
            log.warning("ignoring a frame the bridge cannot read: %s", exc.message)
            return
        if isinstance(frame, Welcome):
            self._live = True
            self.node = frame.node
            self.backoff.reset()
            self.listener.on_link(True, "")
            await self.listener.on_welcome(frame)
        elif isinstance(frame, Message):
            await self.listener.on_messages(frame.conv, [frame], more=False)
        elif isinstance(frame, Batch):
            await self.listener.on_messages(frame.conv, list(frame.messages), more=frame.has_more)
        elif isinstance(frame, Event):
            await self.listener.on_event(frame)
        elif isinstance(frame, Ack):
            await self.listener.on_ack(frame)
        elif isinstance(frame, Error):
            await self.listener.on_error(frame)

    # -- frames out -------------------------------------------------------------------
    async def send(self, frame: ClientFrame) -> None:
        ws = self._ws
        if ws is None or not self._live:
            raise NotConnected("not connected to Steadydesk")
        try:
            await ws.send(dumps_text(frame))
        except ConnectionClosed as exc:
            raise NotConnected("the connection closed") from exc

    # -- REST -------------------------------------------------------------------------
    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.server_url}: {exc}") from exc
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):
                raise ApiError(
                    resp.status_code, str(error.get("code", "")), str(error.get("message", ""))
                )
            raise ApiError(resp.status_code, "http_error", f"HTTP {resp.status_code}")
        return body

    async def fetch_file(self, file_id: str) -> bytes:
        """An attachment's bytes: a fresh signed URL (``GET /api/v1/attachments/{id}``),
        then the URL itself, fetched without the bridge token (it may be an S3 store's)."""
        body = await self.request("GET", f"/api/v1/attachments/{file_id}")
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url:
            raise ApiError(502, "bad_response", "the server gave no URL for the attachment")
        try:
            resp = await self._files.get(url)
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"cannot fetch the attachment: {exc}") from exc
        if resp.status_code != 200:
            raise ApiError(resp.status_code, "http_error", f"HTTP {resp.status_code}")
        return resp.content

    async def upload(self, conv: str, agent: str, name: str, data: bytes) -> str:
        """Upload a file as the linked ``agent`` (the ``as`` field); its attachment id."""
        body = await self.request(
            "POST",
            "/api/v1/attachments",
            data={"conv": conv, "as": agent},
            files={"file": (name, data)},
        )
        file_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(file_id, str) or not file_id:
            raise ApiError(502, "bad_response", "the server did not name the attachment")
        return file_id

    async def get_raw(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """A GET whose status the caller reads itself (a 304 is an answer, not an error);
        raises ApiError(0) when the server cannot be reached."""
        try:
            return await self._http.get(path, headers=headers)
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.server_url}: {exc}") from exc

    async def claim_link(self, code: str, external_user: str) -> str:
        body = await self.request(
            "POST", "/api/v1/bridges/links", json={"code": code, "external_user": external_user}
        )
        agent = body.get("agent_id") if isinstance(body, dict) else None
        if not isinstance(agent, str) or not agent:
            raise ApiError(502, "bad_response", "the server did not name the linked agent")
        return agent
