"""The console's one link to the server: agent login, REST reads and the agent WebSocket.

Nothing else in ``tui_agent`` opens a socket. The UI calls plain methods here and gets
:mod:`tui_agent.events` back through one callback, so this class runs (and is tested)
without Textual.

Delivery, as PROTOCOL §2 asks of a client:

* it keeps, per conversation, the seqs it holds; on every (re)connect it names the
  conversations it follows in ``hello.resume`` with the highest one, and fills any
  hole below with ``sync``; every message reaches the UI once, in seq order;
* a ``send`` stays pending until its ``ack`` (or its own echo) arrives, and is sent
  again with the same ``cid`` after a reconnect, or later on ``rate_limited`` /
  ``unavailable``: the server stores it once;
* it reconnects with exponential backoff and jitter; on close 1012 (a node shutting
  down) or 1013 (try again) it reconnects at once (at most once in 5 s, so a node
  that keeps closing is not hammered); on 4401 it stops and reports
  :class:`~tui_agent.events.AuthExpired`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from steadywire import (
    Accept,
    Ack,
    AgentStatus,
    BadFrame,
    Batch,
    ClientFrame,
    Close,
    CloseCode,
    ConvAssigned,
    ConvClosed,
    ConvQueued,
    ConvTransferred,
    ConvUpdated,
    Error,
    ErrorCode,
    Event,
    Hello,
    Message,
    Monitor,
    Read,
    ReadNotice,
    Send,
    Status,
    Sync,
    Transfer,
    Typing,
    TypingNotice,
    Welcome,
    dumps_text,
    parse_server_frame,
)
from steadywire.server_frames import Attachment
from tui_agent import CLIENT_NAME
from tui_agent.events import (
    AuthExpired,
    ConnectionChanged,
    EventSink,
    HistoryComplete,
    MessagesArrived,
    ReadReceipt,
    SendAcked,
    SendFailed,
    ServerError,
    TypingChanged,
    Welcomed,
    conversation_event,
)
from tui_agent.models import (
    AgentInfo,
    ChatMessage,
    ConnectionState,
    ConversationPage,
    ConversationSummary,
    LabelSet,
    LoginResult,
    MessageKind,
    Person,
)
from tui_agent.streams import Backoff, SeqTracker

CLOSE_BAD_TOKEN = CloseCode.BAD_TOKEN
CLOSE_RECONNECT_NOW = tuple(c for c in CloseCode if c.reconnect_at_once)  # 1012, 1013: resume
RETRYABLE_SEND_ERRORS = frozenset(c.value for c in ErrorCode if c.retryable)
SYNC_PAGE = 500
INSTANT_RETRY_EVERY_SECS = 5.0  # at most one instant retry (1012/1013) in this long
MAX_FRAME_BYTES = 32 * 2**20


class ApiError(Exception):
    """An HTTP call failed: ``status`` 0 means the server could not be reached."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.status = status
        self.code = code
        self.message = message


class NotConnected(Exception):
    """The agent WebSocket is down; the action was not sent."""


@dataclass
class PendingSend:
    conv: str
    frame: Send


def websocket_url(server_url: str) -> str:
    base = server_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://")
    if base.startswith("http://"):
        return "ws://" + base.removeprefix("http://")
    return base


class SteadydeskClient:
    def __init__(
        self,
        server_url: str,
        emit: EventSink,
        *,
        token: str = "",
        tenant: str = "",
        backoff: Backoff | None = None,
        retry_send_secs: float = 2.0,
        http_timeout_secs: float = 10.0,
        open_timeout_secs: float = 10.0,
        ping_interval_secs: float | None = 20.0,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.emit = emit
        self.token = token
        # A routing hint on every request (docs/protocol.md): the server ignores it; a load
        # balancer can keep a tenant's agents on its node group during a gray rollout.
        self.tenant = tenant
        self.backoff = backoff or Backoff()
        self.retry_send_secs = retry_send_secs
        self.http_timeout_secs = http_timeout_secs
        self.open_timeout_secs = open_timeout_secs
        self.ping_interval_secs = ping_interval_secs
        self.me: dict[str, Any] = {}
        self.state = ConnectionState.OFFLINE
        self.node = ""
        self.trackers: dict[str, SeqTracker] = {}
        self.pending: dict[str, PendingSend] = {}  # cid -> un-acked send, in send order
        self._http: httpx.AsyncClient | None = None
        self._ws: ClientConnection | None = None
        self._outbox: asyncio.Queue[str] | None = None
        self._live = False
        self._welcomed_before = False
        self._stop = asyncio.Event()
        self._syncing: set[str] = set()
        self._read_marks: dict[str, int] = {}
        self._desired_status = ""
        self._monitoring = False  # the live monitor's feed, asked again after a reconnect
        self._last_instant = -INSTANT_RETRY_EVERY_SECS

    # ------------------------------------------------------------------ HTTP

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.server_url,
                timeout=self.http_timeout_secs,
                headers={"User-Agent": CLIENT_NAME},
            )
        return self._http

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
        """The JSON body; None when the server has no such route (404 on an older server)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if self.tenant:
            kwargs["params"] = {"tenant": self.tenant, **kwargs.get("params", {})}
        try:
            resp = await self._client().request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.server_url}: {exc}") from exc
        if resp.status_code in (404, 405) and method == "GET":
            return None
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
        if not isinstance(body, dict):
            raise ApiError(resp.status_code, "bad_response", "the server did not answer JSON")
        return body

    async def login(self, tenant: str, email: str, password: str) -> LoginResult:
        self.tenant = tenant
        body = await self._request(
            "POST",
            "/api/v1/auth/login",
            json={"tenant": tenant, "email": email, "password": password},
        )
        assert body is not None
        result = LoginResult.from_wire(body)
        self.token = result.token
        return result

    async def get_me(self) -> dict[str, Any] | None:
        return await self._request("GET", "/api/v1/me")

    async def list_conversations(
        self, *, status: str | None = None, assignee: str | None = None, limit: int = 50
    ) -> list[ConversationSummary] | None:
        page = await self.list_page(status=status, assignee=assignee, limit=limit)
        return None if page is None else list(page.rows)

    async def list_page(
        self,
        *,
        status: str | None = None,
        assignee: str | None = None,
        order: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ConversationPage | None:
        """A page of ``GET /api/v1/conversations``; None when the server has no such route.
        An older server gives no total (None) and no cursor."""
        params: dict[str, str | int] = {"limit": limit}
        for key, value in (
            ("status", status),
            ("assignee", assignee),
            ("order", order),
            ("cursor", cursor),
        ):
            if value:
                params[key] = value
        body = await self._request("GET", "/api/v1/conversations", params=params)
        if body is None:
            return None
        rows = body.get("conversations")
        total = body.get("total")
        cursor = body.get("next_cursor")
        return ConversationPage(
            tuple(ConversationSummary.from_wire(r) for r in rows if isinstance(r, Mapping))
            if isinstance(rows, list)
            else (),
            total if isinstance(total, int) and not isinstance(total, bool) else None,
            cursor if isinstance(cursor, str) and cursor else None,
        )

    async def list_agents(self) -> list[AgentInfo] | None:
        body = await self._request("GET", "/api/v1/agents")
        if body is None:
            return None
        rows = body.get("agents")
        return (
            [AgentInfo.from_wire(r) for r in rows if isinstance(r, Mapping)]
            if (isinstance(rows, list))
            else []
        )

    async def monitor_snapshot(self) -> dict[str, Any] | None:
        """The live monitor's snapshot (admins): visitors now, queue, agents."""
        return await self._request("GET", "/api/v1/monitor/visitors")

    async def invite(self, visitor: str, greeting: str) -> dict[str, Any]:
        """Invite a browsing visitor: a new conversation of mine, opened with ``greeting``."""
        path = "/api/v1/monitor/visitors/" + quote(visitor, safe="") + "/invite"
        body = await self._request("POST", path, json={"body": greeting})
        assert body is not None
        return body

    # -- agent tools (docs/agent-tools.md): each None when the server has no such route

    async def _rows(self, path: str, key: str, **params: str | int) -> list[dict[str, Any]] | None:
        body = await self._request("GET", path, params=dict(params))
        if body is None:
            return None
        rows = body.get(key)
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    async def list_canned(self) -> list[dict[str, Any]] | None:
        return await self._rows("/api/v1/canned-replies", "canned_replies")

    async def save_canned(self, reply_id: str, shortcut: str, body: str) -> dict[str, Any]:
        """Create a personal canned reply ("" id) or change one; the server's row."""
        fields = {"shortcut": shortcut, "body": body}
        if reply_id:
            saved = await self._request("PATCH", f"/api/v1/canned-replies/{reply_id}", json=fields)
        else:
            fields["scope"] = "personal"
            saved = await self._request("POST", "/api/v1/canned-replies", json=fields)
        assert saved is not None
        return saved

    async def delete_canned(self, reply_id: str) -> None:
        await self._request("DELETE", f"/api/v1/canned-replies/{reply_id}")

    async def list_departments(self) -> list[dict[str, Any]] | None:
        return await self._rows("/api/v1/departments", "departments")

    async def conversation_detail(self, conv: str) -> dict[str, Any] | None:
        """One conversation with its visitor's context (device, pages, earlier chats)."""
        return await self._request("GET", f"/api/v1/conversations/{conv}")

    async def search(self, **filters: str) -> list[dict[str, Any]] | None:
        """``GET /api/v1/search``: q, status, agent, department, label, from, to."""
        params: dict[str, str | int] = {k: v for k, v in filters.items() if v}
        params["limit"] = 100
        return await self._rows("/api/v1/search", "results", **params)

    async def tenant_labels(self) -> list[dict[str, Any]] | None:
        return await self._rows("/api/v1/labels", "labels")

    async def add_label(self, conv: str, label: str) -> LabelSet:
        body = await self._request(
            "POST", f"/api/v1/conversations/{conv}/labels", json={"label": label}
        )
        return LabelSet.from_wire(body)

    async def remove_label(self, conv: str, label: str) -> LabelSet:
        path = f"/api/v1/conversations/{conv}/labels/{quote(label, safe='')}"
        return LabelSet.from_wire(await self._request("DELETE", path))

    async def join(self, conv: str) -> dict[str, Any]:
        """Barge in (admins): the visitor is told this agent joined."""
        body = await self._request("POST", f"/api/v1/conversations/{conv}/join")
        assert body is not None
        return body

    async def link_code(self) -> dict[str, str]:
        """A one-time code that links a Slack or Telegram user to this agent (10 minutes)."""
        body = await self._request("POST", "/api/v1/me/link-code")
        assert body is not None
        return {"code": str(body.get("code", "")), "expires_at": str(body.get("expires_at", ""))}

    # ------------------------------------------------------------------ attachments

    async def upload(self, conv: str, path: Path) -> Attachment:
        """``POST /api/v1/attachments`` (multipart): the stored attachment, or ApiError."""
        with path.open("rb") as handle:
            body = await self._request(
                "POST",
                "/api/v1/attachments",
                data={"conv": conv},
                files={"file": (path.name, handle)},
            )
        return _attachment(body)

    async def fresh_attachment(self, att_id: str) -> Attachment:
        """A new signed URL for an attachment (``GET /api/v1/attachments/{id}``)."""
        body = await self._request("GET", f"/api/v1/attachments/{att_id}")
        if body is None:
            raise ApiError(404, "not_found", "no such attachment")
        return _attachment(body)

    async def download(self, att: Attachment, dest: Path) -> Path:
        """Write the attachment's bytes to ``dest`` (a fresh URL first if its own is
        refused as expired); a partly written file is removed."""
        for attempt in range(2):
            url = att.url if attempt == 0 and att.url else (await self.fresh_attachment(att.id)).url
            try:
                async with self._client().stream("GET", url) as resp:
                    if resp.status_code in (401, 403) and attempt == 0:
                        continue
                    if resp.status_code != 200:
                        raise ApiError(resp.status_code, "http_error", f"HTTP {resp.status_code}")
                    with dest.open("xb") as out:
                        try:
                            async for chunk in resp.aiter_bytes():
                                out.write(chunk)
                        except BaseException:
                            out.close()
                            os.remove(dest)
                            raise
                    return dest
            except httpx.HTTPError as exc:
                raise ApiError(0, "unreachable", f"cannot reach {self.server_url}: {exc}") from exc
        raise ApiError(403, "expired_url", "the server refused the attachment's URL")

    async def aclose(self) -> None:
        await self.stop()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # ------------------------------------------------------------------ WebSocket loop

    async def run(self) -> None:
        """Connect and stay connected until :meth:`stop` or a refused token."""
        self._stop.clear()
        while not self._stop.is_set():
            self._set_state(
                ConnectionState.RECONNECTING
                if self._welcomed_before
                else ConnectionState.CONNECTING,
                attempt=self.backoff.attempt,
            )
            code: int | None = None
            reason = ""
            try:
                async with connect(
                    websocket_url(self.server_url)
                    + "/ws/agent"
                    + (f"?{urlencode({'tenant': self.tenant})}" if self.tenant else ""),
                    open_timeout=self.open_timeout_secs,
                    ping_interval=self.ping_interval_secs,
                    max_size=MAX_FRAME_BYTES,
                    user_agent_header=CLIENT_NAME,
                ) as ws:
                    code, reason = await self._session(ws)
            except InvalidStatus as exc:
                reason = f"HTTP {exc.response.status_code}"
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                reason = str(exc) or type(exc).__name__
            finally:
                self._live = False
                self._ws = None
                self._outbox = None
            if code == CLOSE_BAD_TOKEN:
                self._set_state(ConnectionState.OFFLINE, reason=reason)
                self.emit(AuthExpired(reason or "the server refused the token"))
                return
            if self._stop.is_set():
                break
            now = time.monotonic()
            if code in CLOSE_RECONNECT_NOW and now - self._last_instant >= INSTANT_RETRY_EVERY_SECS:
                self._last_instant = now
                delay = 0.0
            else:
                delay = self.backoff.next_delay()
            self._set_state(
                ConnectionState.RECONNECTING,
                attempt=self.backoff.attempt,
                retry_in=delay,
                reason=reason or f"closed ({code})",
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
        self._set_state(ConnectionState.OFFLINE)

    async def stop(self) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 3)

    async def _session(self, ws: ClientConnection) -> tuple[int | None, str]:
        self._ws = ws
        outbox: asyncio.Queue[str] = asyncio.Queue()
        self._outbox = outbox
        resume = {conv: t.last for conv, t in self.trackers.items() if t.followed}
        await ws.send(dumps_text(Hello(self.token, resume, CLIENT_NAME)))
        writer = asyncio.get_running_loop().create_task(self._write_loop(ws, outbox))
        try:
            async for raw in ws:
                self._dispatch(raw)
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        code = ws.close_code if ws.close_code is not None else 1006
        return code, ws.close_reason or ""

    @staticmethod
    async def _write_loop(ws: ClientConnection, outbox: asyncio.Queue[str]) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.send(await outbox.get())

    def _set_state(
        self,
        state: ConnectionState,
        *,
        attempt: int = 0,
        retry_in: float | None = None,
        reason: str = "",
    ) -> None:
        self.state = state
        self.emit(ConnectionChanged(state, attempt, retry_in, reason, self.node))

    # ------------------------------------------------------------------ incoming frames

    def _dispatch(self, raw: str | bytes) -> None:
        """One frame off the socket, parsed once by steadywire: the handlers below get
        typed frames only. What steadywire refuses (not JSON, a type this console does
        not know, a ``message`` without ``conv`` or ``seq``) is ignored, as the protocol
        asks of clients; unknown fields were already left out by the parse."""
        try:
            frame = parse_server_frame(raw)
        except BadFrame:
            return
        match frame:
            case Message():
                self._on_message(frame)
            case Batch():
                self._on_batch(frame)
            case Welcome():
                self._on_welcome(frame)
            case Ack():
                self._on_ack(frame)
            case Event():
                self._on_event(frame)
            case TypingNotice():
                self._on_typing(frame)
            case ReadNotice():
                self._on_read(frame)
            case Error():
                self._on_error(frame)

    def _on_welcome(self, frame: Welcome) -> None:
        self.me = dict(frame.you)
        self.node = frame.node
        resumed = self._welcomed_before
        self._welcomed_before = True
        self._live = True
        self.backoff.reset()
        for cid in list(self.pending):  # again, same cid: the server stores each once
            self._enqueue(self.pending[cid].frame)
        for conv in sorted(self._syncing):
            self._request_page(conv, self._tracker(conv).contiguous)
        for conv, tracker in self.trackers.items():
            if tracker.followed and tracker.contiguous < tracker.last:
                self.sync(conv)
        for conv, seq in self._read_marks.items():
            self._enqueue(Read(conv, seq))
        if self._monitoring:
            self._enqueue(Monitor(True))
        if self._desired_status and self._desired_status != self.me.get("status"):
            self._enqueue(Status(AgentStatus(self._desired_status)))
        self.emit(Welcomed(self.me, self.node, resumed))
        self._set_state(ConnectionState.RESUMED if resumed else ConnectionState.CONNECTED)

    def _on_message(self, frame: Message) -> None:
        message = ChatMessage.from_message(frame)
        if message.cid and message.cid in self.pending and self._is_me(message.sender):
            self._acked(message.cid, message.conv, message.seq, message.id)
        self._deliver(message.conv, [message], "live")

    def _on_ack(self, frame: Ack) -> None:
        if frame.cid in self.pending:
            self._acked(frame.cid, frame.conv, frame.seq, frame.id)

    def _acked(self, cid: str, conv: str, seq: int, message_id: str) -> None:
        self.pending.pop(cid, None)
        self._tracker(conv).followed = True  # the server follows what one sends into
        self.emit(SendAcked(cid, conv, seq, message_id))

    def _on_batch(self, frame: Batch) -> None:
        conv = frame.conv
        messages = [ChatMessage.from_message(m) for m in frame.messages]
        self._deliver(conv, messages, "history")
        if frame.has_more and messages:
            self._request_page(conv, max(m.seq for m in messages))
        else:
            self._syncing.discard(conv)
            self.emit(HistoryComplete(conv))

    def _on_event(self, frame: Event) -> None:
        event = conversation_event(frame)
        if event is None:
            return  # an event this console does not know: ignored (PROTOCOL.md)
        conv, details = event.conv, event.details
        self.emit(event)
        match details:
            case ConvQueued():  # previews, as the first messages of a waiting chat
                previews = [ChatMessage.from_message(m) for m in details.messages]
                self._deliver(conv, previews, "preview")
            case ConvUpdated():  # a later message while it waits
                message = details.message
                if message is not None and self._tracker(conv).contiguous == message.seq - 1:
                    # in order only: sync fills holes
                    self._deliver(conv, [ChatMessage.from_message(message)], "preview")
            case ConvAssigned():
                mine = bool(details.agent.id) and details.agent.id == self.me.get("id")
                self._tracker(conv).followed = mine
                if mine:
                    self.sync(conv)  # the server follows live from its last_seq: fill the rest
            case ConvTransferred() if details.to_department is not None:
                self._tracker(conv).followed = False
            case ConvClosed():
                self._tracker(conv).followed = False
                self._read_marks.pop(conv, None)

    def _on_typing(self, frame: TypingNotice) -> None:
        sender = Person.of(frame.sender)
        if not self._is_me(sender):
            self.emit(TypingChanged(frame.conv, frame.on, sender))

    def _on_read(self, frame: ReadNotice) -> None:
        sender = Person.of(frame.sender)
        if not self._is_me(sender):
            self.emit(ReadReceipt(frame.conv, frame.seq, sender))

    def _on_error(self, frame: Error) -> None:
        code, message, cid, conv = frame.code, frame.message, frame.cid or "", frame.conv or ""
        if cid and cid in self.pending:
            if code in RETRYABLE_SEND_ERRORS:
                asyncio.get_running_loop().call_later(self.retry_send_secs, self._resend, cid)
                return
            pending = self.pending.pop(cid)
            self.emit(SendFailed(cid, pending.conv, code, message))
            return
        if conv and not cid and code in (ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND):
            self._syncing.discard(conv)  # a resume or sync we may not make: stop asking
            if conv in self.trackers:
                self.trackers[conv].followed = False
        self.emit(ServerError(code, message, conv, cid))

    def _resend(self, cid: str) -> None:
        if cid in self.pending and self._live:
            self._enqueue(self.pending[cid].frame)

    def _deliver(self, conv: str, messages: list[ChatMessage], source: str) -> None:
        if not conv:
            return
        fresh = self._tracker(conv).admit(messages)
        if fresh:
            self.emit(MessagesArrived(conv, tuple(fresh), source))

    def _is_me(self, person: Person) -> bool:
        return person.type == "agent" and bool(person.id) and person.id == self.me.get("id")

    def _tracker(self, conv: str) -> SeqTracker:
        tracker = self.trackers.get(conv)
        if tracker is None:
            tracker = self.trackers[conv] = SeqTracker()
        return tracker

    # ------------------------------------------------------------------ outgoing frames

    @property
    def live(self) -> bool:
        return self._live

    def _enqueue(self, frame: ClientFrame) -> None:
        """Every frame this console sends is one of steadywire's client frames."""
        if self._outbox is not None:
            self._outbox.put_nowait(dumps_text(frame))

    def _require_live(self) -> None:
        if not self._live:
            raise NotConnected("not connected to the server")

    def send(
        self,
        conv: str,
        body: str,
        kind: str = MessageKind.TEXT,
        attachments: Sequence[str] = (),
    ) -> str:
        """Queue a message; returns its cid. Sent now if connected, else on reconnect."""
        cid = str(uuid.uuid4())
        frame = Send(cid, body, conv, MessageKind(kind), tuple(attachments))
        self.pending[cid] = PendingSend(conv, frame)
        if self._live:
            self._enqueue(frame)
        return cid

    def accept(self, conv: str) -> None:
        self._require_live()
        self._enqueue(Accept(conv))

    def transfer(
        self,
        conv: str,
        *,
        to_agent: str | None = None,
        to_department: str | None = None,
        note: str = "",
    ) -> None:
        self._require_live()
        self._enqueue(
            Transfer(
                conv,
                to_agent=to_agent or None,
                to_department=None if to_agent else to_department or None,
                note=note or None,
            )
        )

    def close(self, conv: str) -> None:
        self._require_live()
        self._enqueue(Close(conv))

    def set_status(self, state: str) -> None:
        """Ask for a status; kept and applied again after a reconnect."""
        self._desired_status = state
        if self._live:
            self._enqueue(Status(AgentStatus(state)))

    def monitor(self, on: bool) -> None:
        """Follow (or stop following) the live monitor's feed; kept across reconnects."""
        self._monitoring = on
        if self._live:
            self._enqueue(Monitor(on))

    def typing(self, conv: str, on: bool) -> None:
        if self._live:  # stale typing is worse than none: never queued
            self._enqueue(Typing(conv, on))

    def mark_read(self, conv: str, seq: int) -> None:
        if seq <= self._read_marks.get(conv, 0):
            return
        self._read_marks[conv] = seq
        if self._live:
            self._enqueue(Read(conv, seq))

    def follow(self, conv: str) -> None:
        """Keep this conversation in ``resume`` and fetch what is missing of it."""
        self._tracker(conv).followed = True
        self.sync(conv)

    def sync(self, conv: str) -> None:
        """Fetch the history missing below the highest held seq (pages until the end)."""
        self._syncing.add(conv)
        if self._live:
            self._request_page(conv, self._tracker(conv).contiguous)

    def _request_page(self, conv: str, after: int) -> None:
        self._enqueue(Sync(conv, after, SYNC_PAGE))

    def needs_history(self, conv: str) -> bool:
        """True unless the conversation is followed live and held without holes."""
        tracker = self.trackers.get(conv)
        return tracker is None or not tracker.followed or tracker.contiguous < tracker.last

    def last_seq(self, conv: str) -> int:
        tracker = self.trackers.get(conv)
        return tracker.last if tracker else 0


def _attachment(body: Mapping[str, Any] | None) -> Attachment:
    try:
        return Attachment.from_wire(body or {})
    except BadFrame as exc:
        raise ApiError(200, "bad_response", "the server did not describe the attachment") from exc
