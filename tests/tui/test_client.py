"""The client service on its own (no Textual), against the real server."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from tests.support.clients import Clients, cached_login
from tests.support.server import ServerFactory, ServerProcess
from tests.tui.conftest import visitor_starts
from tui_agent.client import ApiError, NotConnected, SteadydeskClient
from tui_agent.events import (
    AuthExpired,
    ClientEvent,
    ConnectionChanged,
    ConversationEvent,
    MessagesArrived,
    SendAcked,
)
from tui_agent.models import ConnectionState
from tui_agent.streams import Backoff

WAIT_SECS = 10.0


class Recorder:
    """Collects client events; waits (bounded) for one that matches."""

    def __init__(self) -> None:
        self.events: list[ClientEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: ClientEvent) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait(
        self, check: Callable[[], object], what: str, limit_secs: float = WAIT_SECS
    ) -> None:
        deadline = time.monotonic() + limit_secs
        while not check():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{what}: not seen within {limit_secs}s; last events: {self.events[-8:]}"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.2))

    def messages(self, conv: str) -> list[tuple[int, str]]:
        return [
            (m.seq, m.body)
            for e in self.events
            if isinstance(e, MessagesArrived) and e.conv == conv
            for m in e.messages
        ]

    def states(self) -> list[ConnectionState]:
        return [e.state for e in self.events if isinstance(e, ConnectionChanged)]

    def event(self, name: str, conv: str) -> bool:
        return any(
            isinstance(e, ConversationEvent) and e.name == name and e.conv == conv
            for e in self.events
        )


class Running:
    def __init__(self, client: SteadydeskClient, recorder: Recorder) -> None:
        self.client = client
        self.recorder = recorder
        self.task = asyncio.get_running_loop().create_task(client.run())

    async def connected(self) -> None:
        await self.recorder.wait(lambda: self.client.live, "connected")

    async def close(self) -> None:
        await self.client.aclose()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, 5)


@pytest_asyncio.fixture
async def running() -> AsyncIterator[Callable[[ServerProcess, str], Running]]:
    started: list[Running] = []

    def start(server: ServerProcess, token: str) -> Running:
        recorder = Recorder()
        client = SteadydeskClient(
            server.url, recorder, token=token, backoff=Backoff(base_secs=0.2, cap_secs=1.0)
        )
        started.append(Running(client, recorder))
        return started[-1]

    yield start
    for item in started:
        await item.close()


async def test_login_refuses_a_wrong_password_with_its_code(server: ServerProcess) -> None:
    assert server.demo is not None
    client = SteadydeskClient(server.url, lambda _e: None)
    try:
        with pytest.raises(ApiError) as info:
            await client.login(server.demo.tenant, server.demo.agents[0].email, "wrong")
        assert info.value.status == 401 and info.value.code == "bad_credentials"
    finally:
        await client.aclose()


async def test_login_then_rest_lists(server: ServerProcess) -> None:
    assert server.demo is not None
    client = SteadydeskClient(server.url, lambda _e: None)
    try:
        account = server.demo.agents[1]
        result = await client.login(server.demo.tenant, account.email, account.password)
        assert result.token and result.agent.email == account.email
        agents = await client.list_agents()
        me = await client.get_me()
        assert agents is not None and me is not None, "the agent REST API did not answer"
        assert account.email in {a.email for a in agents}
        assert me["email"] == account.email
        assert isinstance(await client.list_conversations(status="open"), list)
    finally:
        await client.aclose()


async def test_accept_send_and_ack_then_history_via_sync(
    server: ServerProcess,
    clients: Clients,
    running: Callable[[ServerProcess, str], Running],
    clean_desk: None,
) -> None:
    assert server.demo is not None
    login = await cached_login(server, server.demo.agents[0])
    agent = running(server, login["token"])
    await agent.connected()
    visitor, conv = await visitor_starts(clients, server, "Cleo", "first")
    await visitor.send_and_ack("second")
    await agent.recorder.wait(lambda: agent.recorder.event("conv.queued", conv), "queued")
    agent.client.accept(conv)
    await agent.recorder.wait(lambda: agent.recorder.event("conv.assigned", conv), "assigned")
    # The queued event previewed seq 1; the client fills the rest with sync by itself.
    await agent.recorder.wait(lambda: len(agent.recorder.messages(conv)) == 2, "history")
    cid = agent.client.send(conv, "hello Cleo")
    await agent.recorder.wait(
        lambda: any(isinstance(e, SendAcked) and e.cid == cid for e in agent.recorder.events), "ack"
    )
    echo = await visitor.recv_type("message", conv=conv, body="hello Cleo")
    assert echo["cid"] == cid
    assert agent.recorder.messages(conv) == [(1, "first"), (2, "second"), (3, "hello Cleo")]
    assert not agent.client.pending


async def test_refused_token_stops_and_reports_auth_expired(
    server: ServerProcess,
    running: Callable[[ServerProcess, str], Running],
) -> None:
    agent = running(server, "not-a-token")
    await agent.recorder.wait(
        lambda: any(isinstance(e, AuthExpired) for e in agent.recorder.events), "auth expired"
    )
    await asyncio.wait_for(agent.task, 5)
    assert agent.recorder.states()[-1] is ConnectionState.OFFLINE
    with pytest.raises(NotConnected):
        agent.client.accept("anything")


async def test_resume_after_restart_replays_once_and_resends_pending_once(
    server_factory: ServerFactory,
    clients: Clients,
    running: Callable[[ServerProcess, str], Running],
) -> None:
    own = server_factory()
    assert own.demo is not None
    login = await cached_login(own, own.demo.agents[0])
    agent = running(own, login["token"])
    await agent.connected()
    visitor, conv = await visitor_starts(clients, own, "Dora", "before")
    await agent.recorder.wait(lambda: agent.recorder.event("conv.queued", conv), "queued")
    agent.client.accept(conv)
    await agent.recorder.wait(
        lambda: agent.client.last_seq(conv) == 1 and agent.recorder.event("conv.assigned", conv),
        "assigned",
    )

    # Graceful stop: close 1012, then the console keeps trying while the node is down.
    await own.astop()
    await agent.recorder.wait(lambda: not agent.client.live, "noticed the stop")
    retries = [
        e
        for e in agent.recorder.events
        if isinstance(e, ConnectionChanged) and e.retry_in is not None
    ]
    assert retries[0].retry_in == 0.0, "close 1012: reconnect at once"
    cid = agent.client.send(conv, "typed while down")  # pending until a node is back
    await own.astart()
    session = dict(visitor.session)
    revisit = await clients.visitor(own, session=session, resume={conv: 1}, label="visitor-2")
    for body in ("while 1", "while 2", "while 3"):
        await revisit.send_and_ack(body, conv=conv)

    await agent.recorder.wait(
        lambda: ConnectionState.RESUMED in agent.recorder.states(), "resumed", limit_secs=20
    )
    await agent.recorder.wait(lambda: cid not in agent.client.pending, "pending resent")
    want = {"before", "while 1", "while 2", "while 3", "typed while down"}
    await agent.recorder.wait(
        lambda: want <= {b for _, b in agent.recorder.messages(conv)}, "all messages"
    )
    got = agent.recorder.messages(conv)
    seqs = [s for s, _ in got]
    assert seqs == sorted(seqs) == list(range(1, len(got) + 1)), got
    assert [b for _, b in got if b.startswith("while")] == ["while 1", "while 2", "while 3"]
    history = await revisit.history(conv)
    assert [m["body"] for m in history].count("typed while down") == 1


async def test_requests_carry_the_tenant_as_a_routing_hint() -> None:
    """docs/protocol.md's routing hint: ``?tenant=`` on the login, every REST call and the
    WebSocket upgrade, so nginx can keep a pinned tenant's agents on one node group."""
    request_lines: list[str] = []

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_lines.append(head.split(b"\r\n", 1)[0].decode())
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(refuse, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    recorder = Recorder()
    client = SteadydeskClient(url, recorder, backoff=Backoff(base_secs=0.05, cap_secs=0.1))
    try:
        with pytest.raises(ApiError):
            await client.login("acme", "ann@acme.test", "secret-pw")
        with pytest.raises(ApiError):
            await client.list_conversations(status="open")
        task = asyncio.create_task(client.run())
        await recorder.wait(lambda: any("/ws/agent" in line for line in request_lines), "upgrade")
        await client.stop()
        await asyncio.wait_for(task, WAIT_SECS)
    finally:
        await client.aclose()
        listener.close()
    assert request_lines[0] == "POST /api/v1/auth/login?tenant=acme HTTP/1.1"
    listed = request_lines[1]
    assert listed.startswith("GET /api/v1/conversations?"), listed
    assert "tenant=acme" in listed and "status=open" in listed
    assert any(line == "GET /ws/agent?tenant=acme HTTP/1.1" for line in request_lines)
