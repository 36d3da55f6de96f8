# Bounded waits take an explicit per-call timeout (every wait in the suite must end):
# ruff: noqa: ASYNC109
"""Async protocol clients for the tests: HTTP calls and a WebSocket wrapper.

Every wait here is bounded. ``WsClient`` reads its connection in a background task,
so frames are never lost while a test waits for something else: frames that do not
match what a test waits for stay buffered for later ``recv_until`` calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from tests.support.http import http_client
from tests.support.server import Account, DemoTenant, ServerProcess
from tests.support.wire_roundtrip import roundtrip_problem

Frame = dict[str, Any]
FramePredicate = Callable[[Frame], bool]

DEFAULT_TIMEOUT = 5.0
HTTP_TIMEOUT = 10.0
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LEAK_MARKERS = ("Traceback", 'File "/', "peewee", "pymysql", "sqlite3.", "SELECT ", "INSERT INTO",
                "OperationalError", "IntegrityError")


def new_cid() -> str:
    return str(uuid.uuid4())


def user_hash(site_secret: str, user_id: str, user_ts: int | None = None) -> str:
    """The identity-verification HMAC of PROTOCOL §3 (plain or first timed form; the
    first timed form is accepted only by sites that require timed hashes)."""
    text = user_id if user_ts is None else f"{user_id}:{user_ts}"
    return hmac.new(site_secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def timed_user_hash(site_secret: str, user_id: str, user_ts: int) -> str:
    """The timed form of docs/protocol.md §3: ``t1:`` and an HMAC under the timed key."""
    key = hashlib.sha256(b"steadydesk timed user_hash v1\n" + site_secret.encode()).digest()
    return "t1:" + hmac.new(key, f"{user_id}:{user_ts}".encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------- HTTP


def _demo(server: ServerProcess, demo: DemoTenant | None) -> DemoTenant:
    if demo is not None:
        return demo
    assert server.demo is not None, "server has no demo tenant (start() seeds it)"
    return server.demo


async def post_json(
    server: ServerProcess, path: str, body: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    async with http_client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
        return await http.post(path, json=dict(body), headers=dict(headers or {}))


async def get(server: ServerProcess, path: str,
              headers: Mapping[str, str] | None = None) -> httpx.Response:
    async with http_client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
        return await http.get(path, headers=dict(headers or {}))


async def visitor_session(
    server: ServerProcess, *, origin: str | None = None, demo: DemoTenant | None = None,
    **fields: Any,
) -> httpx.Response:
    """POST /api/v1/visitor/session; ``site_key`` defaults to the demo site's."""
    body: dict[str, Any] = {"site_key": _demo(server, demo).site_key}
    body.update(fields)
    headers = {"Origin": origin} if origin else {}
    return await post_json(server, "/api/v1/visitor/session", body, headers)


async def new_visitor(server: ServerProcess, **fields: Any) -> dict[str, Any]:
    resp = await visitor_session(server, **fields)
    assert resp.status_code == 200, f"visitor session: {resp.status_code} {resp.text}"
    data: dict[str, Any] = resp.json()
    return data


async def agent_login(
    server: ServerProcess, email: str, password: str, *, tenant: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    body = {"tenant": tenant or _demo(server, None).tenant, "email": email, "password": password}
    return await post_json(server, "/api/v1/auth/login", body, headers)


async def login(server: ServerProcess, account: Account, *,
                demo: DemoTenant | None = None) -> dict[str, Any]:
    resp = await agent_login(server, account.email, account.password,
                             tenant=_demo(server, demo).tenant)
    assert resp.status_code == 200, f"login {account.email}: {resp.status_code} {resp.text}"
    data: dict[str, Any] = resp.json()
    return data


_login_cache: dict[tuple[str, str, str], dict[str, Any]] = {}


async def cached_login(server: ServerProcess, account: Account, *,
                       demo: DemoTenant | None = None) -> dict[str, Any]:
    """``login`` once per server, tenant and account (password hashing is slow on purpose;
    the token outlives a test module and survives restarts of the same data dir)."""
    tenant = _demo(server, demo).tenant
    key = (str(server.data_dir), tenant, account.email)
    if key not in _login_cache:
        _login_cache[key] = await login(server, account, demo=demo)
    return _login_cache[key]


def assert_error_response(resp: httpx.Response, status: int | None = None,
                          code: str | None = None, *, secrets: Iterable[str] = ()) -> str:
    """Assert PROTOCOL §3's error shape, status and code; return the code."""
    text = resp.text
    if status is not None:
        assert resp.status_code == status, f"expected HTTP {status}, got {resp.status_code}: {text}"
    assert resp.headers.get("content-type", "").startswith("application/json"), (
        f"error response is not JSON: {resp.headers.get('content-type')!r} {text[:300]}"
    )
    body = resp.json()
    assert isinstance(body, dict) and set(body) == {"error"}, f"bad error shape: {body!r}"
    err = body["error"]
    assert isinstance(err, dict), f"bad error shape: {body!r}"
    assert {"code", "message"} <= set(err), f"error lacks code/message: {body!r}"
    assert isinstance(err["code"], str) and re.fullmatch(r"[a-z][a-z0-9_]*", err["code"]), (
        f"error code is not stable snake_case: {err['code']!r}"
    )
    assert isinstance(err["message"], str) and err["message"], f"empty message: {body!r}"
    for marker in LEAK_MARKERS:
        assert marker not in text, f"error response leaks {marker!r}: {text[:500]}"
    for secret in secrets:
        assert secret not in text, "error response leaks a secret"
    if code is not None:
        assert err["code"] == code, f"expected error code {code!r}, got {err['code']!r}: {text}"
    return str(err["code"])


# ---------------------------------------------------------------------- WebSocket


class WsClosed(AssertionError):
    """The connection closed while a test was waiting for a frame."""

    def __init__(self, label: str, code: int | None, reason: str, waiting_for: str) -> None:
        super().__init__(f"{label}: connection closed (code {code}, reason {reason!r}) "
                         f"while waiting for {waiting_for}")
        self.code = code
        self.reason = reason


class WsClient:
    """A protocol client over one WebSocket connection."""

    def __init__(self, ws: ClientConnection, *, label: str = "ws") -> None:
        self.ws = ws
        self.label = label
        self.log: list[Frame] = []  # every frame, in arrival order
        self.invalid: list[str] = []  # frames that were not a JSON object with a "type"
        self.stream_violations: list[str] = []
        self.wire_drift: list[str] = []  # frames steadywire does not give back byte for byte
        self.welcome: Frame | None = None
        self.token: str | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed = asyncio.Event()
        self.session: dict[str, Any] = {}  # visitor session JSON, set by Clients.visitor
        self.login: dict[str, Any] = {}  # agent login JSON, set by Clients.agent
        self._inbox: list[Frame] = []
        self._claimed: set[int] = set()
        self._by_cid: dict[str, list[Frame]] = {}
        self._stream: dict[str, list[Frame]] = {}  # conv -> `message` frames in order
        self._cond = asyncio.Condition()
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def connect(
        cls, url: str, *, origin: str | None = None, headers: Mapping[str, str] | None = None,
        compression: str | None = "deflate", label: str = "ws", open_timeout: float = 5.0,
    ) -> WsClient:
        ws = await connect(
            url, origin=Origin(origin) if origin else None,
            additional_headers=dict(headers or {}),
            compression=compression, open_timeout=open_timeout, ping_interval=None,
            close_timeout=2, max_size=32 * 2**20, max_queue=None, proxy=None,
        )
        return cls(ws, label=label)

    # ------------------------------------------------------------------ reading

    async def _read_loop(self) -> None:
        try:
            async for raw in self.ws:
                frame = self._parse(raw)
                async with self._cond:
                    if frame is not None:
                        self._record(frame)
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            rcvd = self.ws.close_code
            self.close_code = rcvd if rcvd is not None else 1006
            self.close_reason = self.ws.close_reason or ""
            self.closed.set()
            async with self._cond:
                self._cond.notify_all()

    def _parse(self, raw: str | bytes) -> Frame | None:
        if isinstance(raw, bytes):
            self.invalid.append(f"binary frame {raw[:80]!r}")
            return None
        try:
            frame = json.loads(raw)
        except ValueError:
            self.invalid.append(f"not JSON: {raw[:200]!r}")
            return None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            self.invalid.append(f"not an object with a type: {raw[:200]!r}")
            return None
        drift = roundtrip_problem(raw)
        if drift is not None:
            self.wire_drift.append(drift)
        return frame

    def _record(self, frame: Frame) -> None:
        self.log.append(frame)
        self._inbox.append(frame)
        cid = frame.get("cid")
        if frame["type"] in ("ack", "error") and isinstance(cid, str):
            self._by_cid.setdefault(cid, []).append(frame)
        if frame["type"] == "message":
            conv, seq = frame.get("conv"), frame.get("seq")
            stream = self._stream.setdefault(str(conv), [])
            if stream and isinstance(seq, int):
                last = stream[-1].get("seq")
                if isinstance(last, int) and seq <= last:
                    kind = "repeated" if any(m.get("seq") == seq for m in stream) else "went back"
                    self.stream_violations.append(
                        f"{self.label}: conv {conv} seq {seq} {kind} after seq {last}"
                    )
            stream.append(frame)

    def _take(self, pred: FramePredicate) -> Frame | None:
        for i, frame in enumerate(self._inbox):
            if id(frame) in self._claimed:
                continue
            if pred(frame):
                del self._inbox[i]
                self._claimed.add(id(frame))
                return frame
        return None

    async def recv_until(self, pred: FramePredicate, timeout: float = DEFAULT_TIMEOUT,
                         what: str = "a matching frame") -> Frame:
        """The first buffered or future frame matching ``pred``; others stay buffered."""
        found: list[Frame] = []

        def ready() -> bool:
            frame = self._take(pred)
            if frame is not None:
                found.append(frame)
                return True
            return self.closed.is_set()

        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(ready), timeout)
            except TimeoutError:
                raise AssertionError(
                    f"{self.label}: no {what} within {timeout}s; unclaimed frames: "
                    f"{self._summary()}"
                ) from None
        if found:
            return found[0]
        raise WsClosed(self.label, self.close_code, self.close_reason, what)

    async def recv_json(self, timeout: float = DEFAULT_TIMEOUT) -> Frame:
        """The next frame not yet taken by another wait."""
        return await self.recv_until(lambda f: True, timeout, "any frame")

    async def recv_type(self, type_: str, timeout: float = DEFAULT_TIMEOUT,
                        **fields: Any) -> Frame:
        def pred(f: Frame) -> bool:
            return f["type"] == type_ and all(f.get(k) == v for k, v in fields.items())
        return await self.recv_until(pred, timeout, f"{type_} {fields or ''}".strip())

    async def recv_event(self, name: str, conv: str | None = None,
                         timeout: float = DEFAULT_TIMEOUT) -> Frame:
        def pred(f: Frame) -> bool:
            return f["type"] == "event" and f.get("name") == name and (
                conv is None or f.get("conv") == conv)
        return await self.recv_until(pred, timeout, f"event {name} conv={conv}")

    async def recv_error(self, code: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                         **fields: Any) -> Frame:
        def pred(f: Frame) -> bool:
            return f["type"] == "error" and all(f.get(k) == v for k, v in fields.items())
        frame = await self.recv_until(pred, timeout, f"error {fields}")
        if code is not None:
            assert frame.get("code") == code, f"{self.label}: expected error {code}, got {frame}"
        return frame

    async def expect_no_frame(self, match: str | FramePredicate, within: float = 0.5) -> None:
        """Fail if a frame of that type (or matching the predicate) arrives within ``within``.

        Frames already buffered count too; nothing is consumed.
        """
        pred: FramePredicate = (
            (lambda f: f["type"] == match) if isinstance(match, str) else match
        )
        start = len(self.log)

        def seen() -> bool:
            return any(pred(f) for f in self.log[start:])

        buffered = [f for f in self._inbox if id(f) not in self._claimed and pred(f)]
        assert not buffered, f"{self.label}: unexpected frame {buffered[0]}"
        async with self._cond:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cond.wait_for(seen), within)
        hits = [f for f in self.log[start:] if pred(f)]
        assert not hits, f"{self.label}: unexpected frame {hits[0]}"

    async def wait_state(self, check: Callable[[], bool], timeout: float = DEFAULT_TIMEOUT,
                         what: str = "a condition") -> None:
        """Wait until ``check()`` holds (re-checked on every frame and on close)."""
        async with self._cond:
            try:
                await asyncio.wait_for(
                    self._cond.wait_for(lambda: check() or self.closed.is_set()), timeout)
            except TimeoutError:
                raise AssertionError(f"{self.label}: {what} not reached within {timeout}s; "
                                     f"recent frames: {self._summary()}") from None
        if not check():
            raise WsClosed(self.label, self.close_code, self.close_reason, what)

    def messages(self, conv: str) -> list[Frame]:
        """The `message` frames of one conversation received live (and by replay), in order."""
        return list(self._stream.get(conv, []))

    def message_seqs(self, conv: str) -> list[int]:
        return [int(m["seq"]) for m in self._stream.get(conv, [])]

    def frames_about(self, conv: str) -> list[Frame]:
        """Every frame naming ``conv`` anywhere (top level, data, batch messages)."""
        return [f for f in self.log if conv in json.dumps(f)]

    def _summary(self, limit: int = 12) -> str:
        pending = [f for f in self._inbox if id(f) not in self._claimed][-limit:]
        return json.dumps(pending)[:2000]

    # ------------------------------------------------------------------ writing

    async def send_json(self, frame: Mapping[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def send_text(self, text: str) -> None:
        await self.ws.send(text)

    async def hello(self, token: str, resume: Mapping[str, int] | None = None,
                    timeout: float = DEFAULT_TIMEOUT, **extra: Any) -> Frame:
        frame: dict[str, Any] = {"type": "hello", "token": token, "client": "steadytest/1.0"}
        if resume is not None:
            frame["resume"] = dict(resume)
        frame.update(extra)
        await self.send_json(frame)
        welcome = await self.recv_type("welcome", timeout)
        self.welcome = welcome
        self.token = token
        return welcome

    async def send_message(self, body: str = "hello", conv: str | None = None,
                           cid: str | None = None, kind: str | None = None,
                           **extra: Any) -> str:
        """Send a `send` frame with a fresh uuid4 cid (unless given); returns the cid."""
        cid = cid or new_cid()
        frame: dict[str, Any] = {"type": "send", "cid": cid, "body": body}
        if conv is not None:
            frame["conv"] = conv
        if kind is not None:
            frame["kind"] = kind
        frame.update(extra)
        await self.send_json(frame)
        return cid

    async def wait_ack(self, cid: str, timeout: float = DEFAULT_TIMEOUT) -> Frame:
        """The next `ack` or `error` frame carrying ``cid`` (each is returned once)."""
        def unclaimed() -> list[Frame]:
            return [f for f in self._by_cid.get(cid, []) if id(f) not in self._claimed]

        def ready() -> bool:
            return bool(unclaimed()) or self.closed.is_set()

        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(ready), timeout)
            except TimeoutError:
                raise AssertionError(f"{self.label}: no ack/error for cid {cid} within "
                                     f"{timeout}s; recent: {self._summary()}") from None
            frames = unclaimed()
            if not frames:
                raise WsClosed(self.label, self.close_code, self.close_reason, f"ack {cid}")
            frame = frames[0]
            self._claimed.add(id(frame))
            for i, buffered in enumerate(self._inbox):
                if buffered is frame:
                    del self._inbox[i]
                    break
            return frame

    async def send_and_ack(self, body: str = "hello", conv: str | None = None,
                           cid: str | None = None, kind: str | None = None,
                           timeout: float = DEFAULT_TIMEOUT, **extra: Any) -> Frame:
        cid = await self.send_message(body, conv, cid, kind, **extra)
        frame = await self.wait_ack(cid, timeout)
        assert frame["type"] == "ack", f"{self.label}: send {cid} refused: {frame}"
        return frame

    async def ping_pong(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Round trip a JSON ping: everything the server sent before the pong has arrived."""
        await self.send_json({"type": "ping"})
        await self.recv_type("pong", timeout)

    async def sync(self, conv: str, after: int = 0, limit: int | None = None,
                   timeout: float = DEFAULT_TIMEOUT) -> Frame:
        frame: dict[str, Any] = {"type": "sync", "conv": conv, "after": after}
        if limit is not None:
            frame["limit"] = limit
        await self.send_json(frame)
        return await self.recv_until(
            lambda f: (f["type"] == "batch" and f.get("conv") == conv)
            or (f["type"] == "error" and f.get("conv") == conv),
            timeout, f"batch for {conv}",
        )

    async def history(self, conv: str, after: int = 0,
                      timeout: float = DEFAULT_TIMEOUT) -> list[Frame]:
        """Every message after ``after``, paging ``sync`` with limit 500 until has_more ends."""
        messages: list[Frame] = []
        for _ in range(10_000):
            batch = await self.sync(conv, after=after, limit=500, timeout=timeout)
            assert batch["type"] == "batch", f"{self.label}: sync {conv} refused: {batch}"
            page = batch["messages"]
            messages.extend(page)
            if not batch["has_more"]:
                return messages
            assert page, f"{self.label}: has_more with an empty page"
            after = int(page[-1]["seq"])
        raise AssertionError("history did not end")

    # ------------------------------------------------------------------ closing

    async def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> int | None:
        """Wait for the server to close the connection; the close code (1006 if abrupt)."""
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.label}: still open after {timeout}s; "
                                 f"recent: {self._summary()}") from None
        return self.close_code

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        transport = self.ws.transport
        transport.abort()

    async def close(self) -> None:
        if not self.closed.is_set():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 3)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader

    def __repr__(self) -> str:
        return f"<WsClient {self.label}>"


# ---------------------------------------------------------------------- pool


class Clients:
    """Opens protocol clients for one test and closes them all at the end.

    ``check()`` reports what every connection broke of PROTOCOL §2's per-connection
    rules (a seq sent twice or out of order) and any frame that was not a JSON object.
    """

    def __init__(self) -> None:
        self.all: list[WsClient] = []
        self._count = 0

    async def connect(self, server: ServerProcess, path: str, *, origin: str | None = None,
                      headers: Mapping[str, str] | None = None,
                      compression: str | None = "deflate", label: str | None = None) -> WsClient:
        self._count += 1
        client = await WsClient.connect(
            server.ws_url + path, origin=origin, headers=headers, compression=compression,
            label=label or f"{path.rsplit('/', 1)[-1]}#{self._count}",
        )
        self.all.append(client)
        return client

    async def visitor(
        self, server: ServerProcess, *, session: Mapping[str, Any] | None = None,
        resume: Mapping[str, int] | None = None, origin: str | None = None,
        demo: DemoTenant | None = None, label: str | None = None, **fields: Any,
    ) -> WsClient:
        """A visitor connected and greeted; ``client.session`` holds its session JSON."""
        if session is None:
            resp = await visitor_session(server, demo=demo, **fields)
            assert resp.status_code == 200, f"visitor session: {resp.status_code} {resp.text}"
            session = resp.json()
        client = await self.connect(server, "/ws/visitor", origin=origin,
                                    label=label or f"visitor#{self._count + 1}")
        client.session = dict(session)
        await client.hello(session["token"], resume=resume)
        return client

    async def agent(
        self, server: ServerProcess, account: Account | None = None, *,
        resume: Mapping[str, int] | None = None, demo: DemoTenant | None = None,
        login_data: Mapping[str, Any] | None = None, label: str | None = None,
    ) -> WsClient:
        """An agent logged in, connected and greeted; ``client.login`` holds the login JSON."""
        tenant = _demo(server, demo)
        if login_data is None:
            login_data = await cached_login(server, account or tenant.agents[0], demo=tenant)
        client = await self.connect(server, "/ws/agent", label=label or f"agent#{self._count + 1}")
        client.login = dict(login_data)
        await client.hello(login_data["token"], resume=resume)
        return client

    def check(self) -> list[str]:
        problems: list[str] = []
        for client in self.all:
            problems += client.stream_violations
            problems += [f"{client.label}: {drift}" for drift in client.wire_drift]
            problems += [f"{client.label}: {bad}" for bad in client.invalid]
        return problems

    async def close_all(self) -> None:
        await asyncio.gather(*(c.close() for c in self.all), return_exceptions=True)


def identity(client: WsClient) -> tuple[str, str]:
    """(sender type, sender id) of a greeted client, as `message.sender` should name it."""
    assert client.welcome is not None
    you = client.welcome["you"]
    return str(you["type"]), str(you["id"])


async def open_conversation(visitor: WsClient, agent: WsClient, body: str = "Hello, I need help",
                            timeout: float = DEFAULT_TIMEOUT) -> str:
    """The visitor starts a conversation, the agent accepts it; returns the conv id.

    Waits for `conv.queued` at the agent and `conv.assigned` at both sides.
    """
    ack = await visitor.send_and_ack(body, timeout=timeout)
    conv = str(ack["conv"])
    first = await agent.recv_until(
        lambda f: f["type"] == "event" and f.get("conv") == conv
        and f.get("name") in ("conv.queued", "conv.assigned"),
        timeout, f"conv.queued for {conv}",
    )
    if first["name"] == "conv.queued":
        await agent.send_json({"type": "accept", "conv": conv})
        frame = await agent.recv_until(
            lambda f: f.get("conv") == conv and (
                (f["type"] == "event" and f.get("name") == "conv.assigned") or f["type"] == "error"
            ), timeout, f"conv.assigned for {conv}",
        )
        assert frame["type"] == "event", f"accept {conv} refused: {frame}"
    await visitor.recv_event("conv.assigned", conv, timeout)
    return conv


async def send_pipelined(
    client: WsClient, conv: str | None, count: int, *, window: int = 20,
    body: Callable[[int], str] = lambda i: f"message {i}", kind: str | None = None,
    timeout: float = 30.0,
) -> list[Frame]:
    """Send ``count`` messages with at most ``window`` un-acked; the acks, in send order."""
    sem = asyncio.Semaphore(window)
    acks: list[Frame] = [{} for _ in range(count)]

    async def one(i: int) -> None:
        async with sem:
            cid = await client.send_message(body(i), conv, kind=kind)
            acks[i] = await client.wait_ack(cid, timeout)
            assert acks[i]["type"] == "ack", f"{client.label}: send {i} refused: {acks[i]}"

    await asyncio.gather(*(one(i) for i in range(count)))
    return acks
