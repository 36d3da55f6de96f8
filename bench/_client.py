"""A small Steadydesk protocol client for the benchmarks.

It speaks only the wire contract (shared PROTOCOL.md): REST for the visitor session and
the agent login, JSON text frames on `/ws/visitor` and `/ws/agent`. It never imports
`server`, so it measures exactly what any other client would see.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

Frame = dict[str, Any]
FramePredicate = Callable[[Frame], bool]
FrameHandler = Callable[[Frame, float], None]
Waiter = tuple[FramePredicate, FramePredicate | None, "asyncio.Future[Frame]"]

try:  # orjson is optional: it only makes the load generator cheaper.
    import orjson

    def loads(data: str | bytes) -> Any:
        return orjson.loads(data)

    def dumps(obj: Any) -> str:
        return orjson.dumps(obj).decode()

except ImportError:  # pragma: no cover - depends on the environment
    _encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

    def loads(data: str | bytes) -> Any:
        return json.loads(data)

    def dumps(obj: Any) -> str:
        return _encoder.encode(obj)


DEFAULT_TIMEOUT_SECS = 15.0


class ProtocolError(RuntimeError):
    """The server answered something the contract does not allow, or nothing in time."""


def new_cid() -> str:
    return str(uuid.uuid4())


def ws_base(http_url: str) -> str:
    if http_url.startswith("https://"):
        return "wss://" + http_url.removeprefix("https://")
    return "ws://" + http_url.removeprefix("http://")


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    token: str | None = None  # issued with the account (agent create --bulk --issue-tokens)


@dataclass(frozen=True)
class Demo:
    """The object printed by `steadydesk demo --json` (the fields the benchmarks use)."""

    tenant: str
    site_key: str
    admin: Account
    agents: tuple[Account, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Demo:
        try:
            return cls(
                tenant=data["tenant"],
                site_key=data["site_key"],
                admin=Account(data["admin"]["email"], data["admin"]["password"]),
                agents=tuple(Account(a["email"], a["password"]) for a in data["agents"]),
            )
        except (KeyError, TypeError) as exc:
            raise ProtocolError(f"demo JSON lacks a field the contract names: {exc!r}") from exc

    @classmethod
    def parse(cls, text: str) -> Demo:
        """Parse the demo command's stdout, tolerating log lines around the JSON object."""
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end < start:
            raise ProtocolError(f"demo printed no JSON object: {text[:300]!r}")
        return cls.from_json(json.loads(text[start : end + 1]))


def _http_error(what: str, resp: httpx.Response) -> ProtocolError:
    return ProtocolError(f"{what}: HTTP {resp.status_code} {resp.text[:300]}")


async def visitor_session(http: httpx.AsyncClient, site_key: str) -> str:
    """POST /api/v1/visitor/session without an Origin (a non-browser client); return the token."""
    resp = await http.post("/api/v1/visitor/session", json={"site_key": site_key})
    if resp.status_code != 200:
        raise _http_error("visitor session", resp)
    return str(resp.json()["token"])


async def agent_login(http: httpx.AsyncClient, tenant: str, account: Account) -> str:
    resp = await http.post(
        "/api/v1/auth/login",
        json={"tenant": tenant, "email": account.email, "password": account.password},
    )
    if resp.status_code != 200:
        raise _http_error(f"login {account.email}", resp)
    return str(resp.json()["token"])


async def provision_agents(
    http: httpx.AsyncClient, demo: Demo, count: int, tag: str
) -> tuple[list[Account], str]:
    """Create `count` agents through the admin REST API, so each pair has its own agent.

    The path is found in /api/v1/openapi.json (the contract leaves the admin API to it).
    Returns the accounts and, when that was not possible, why (then the list is empty).
    """
    resp = await http.get("/api/v1/openapi.json")
    if resp.status_code != 200:
        return [], f"no OpenAPI document (HTTP {resp.status_code})"
    paths: dict[str, Any] = resp.json().get("paths", {})
    path = next(
        (p for p, ops in paths.items() if p.rstrip("/").endswith("/agents") and "post" in ops),
        None,
    )
    if path is None:
        return [], "the OpenAPI document has no POST .../agents"
    admin = await agent_login(http, demo.tenant, demo.admin)
    accounts: list[Account] = []
    for i in range(count):
        account = Account(f"bench-{tag}-{i}@bench.example", f"bench-{tag}-pw-{i}")
        created = await http.post(
            path,
            headers={"Authorization": f"Bearer {admin}"},
            json={"email": account.email, "password": account.password, "name": f"bench {i}"},
        )
        if created.status_code not in (200, 201):
            return [], f"POST {path}: HTTP {created.status_code} {created.text[:200]}"
        accounts.append(account)
    return accounts, ""


class Conn:
    """One WebSocket: a reader task that hands each frame to `handler` and to waiters.

    The handler is the hot path of a load run (a plain function, no awaits); waiters are
    for the setup steps, where we wait for one particular frame.
    """

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        self.name = name
        self.handler: FrameHandler | None = None
        self.welcome: Frame = {}
        self.frames_in = 0
        self.closed = asyncio.Event()
        self._waiters: list[Waiter] = []
        self._reader = asyncio.create_task(self._read(), name=f"read-{name}")

    @classmethod
    async def connect(cls, url: str, name: str, deflate: bool = False) -> Conn:
        try:
            ws = await connect(
                url,
                compression="deflate" if deflate else None,
                ping_interval=None,  # the server pings; the client only answers
                proxy=None,
                max_queue=None,
                max_size=1 << 22,
                open_timeout=DEFAULT_TIMEOUT_SECS,
                close_timeout=2,
                user_agent_header="steadydesk-bench/1",
            )
        except InvalidStatus as exc:
            hint = " (raise STEADY_CONN_RATE_IP on the server)" if "429" in str(exc) else ""
            raise ProtocolError(f"{name}: WebSocket upgrade refused: {exc}{hint}") from exc
        return cls(ws, name)

    async def hello(
        self, token: str, resume: dict[str, int] | None = None, within: float = DEFAULT_TIMEOUT_SECS
    ) -> Frame:
        frame: Frame = {"type": "hello", "token": token, "client": "steadydesk-bench/1"}
        if resume:
            frame["resume"] = resume
        fut = self.expect(lambda f: f.get("type") == "welcome", lambda f: True)
        try:
            await self.send(frame)
        except BaseException:
            fut.cancel()  # nobody will wait for it: no "exception never retrieved" later
            self._waiters = [w for w in self._waiters if w[2] is not fut]
            raise
        self.welcome = await self.wait(fut, "welcome after hello", within)
        return self.welcome

    async def send(self, frame: Frame) -> None:
        await self.ws.send(dumps(frame))

    def expect(
        self, match: FramePredicate, error_match: FramePredicate | None = None
    ) -> asyncio.Future[Frame]:
        """Register interest in a frame *before* sending what causes it.

        `error_match` picks `error` frames that answer the same request; they fail the wait.
        """
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._waiters.append((match, error_match, fut))
        return fut

    async def wait(
        self, fut: asyncio.Future[Frame], what: str, within: float = DEFAULT_TIMEOUT_SECS
    ) -> Frame:
        try:
            return await asyncio.wait_for(fut, within)
        except TimeoutError:
            raise ProtocolError(f"{self.name}: no {what} within {within:g} s") from None
        finally:
            self._waiters = [w for w in self._waiters if w[2] is not fut]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = loads(raw)
                now = time.perf_counter()
                self.frames_in += 1
                if self.handler is not None:
                    self.handler(frame, now)
                if self._waiters:
                    self._dispatch(frame)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            reason = f"{self.name}: connection closed (code {self.ws.close_code}, "
            reason += f"reason {self.ws.close_reason!r})"
            for _, _, fut in self._waiters:
                if not fut.done():
                    fut.set_exception(ProtocolError(reason))

    def _dispatch(self, frame: Frame) -> None:
        is_error = frame.get("type") == "error"
        for match, error_match, fut in self._waiters:
            if fut.done():
                continue
            if is_error and error_match is not None and error_match(frame):
                fut.set_exception(
                    ProtocolError(
                        f"{self.name}: server answered error {frame.get('code')!r}: "
                        f"{frame.get('message')!r} ({dumps(frame)[:200]})"
                    )
                )
            elif match(frame):
                fut.set_result(frame)
