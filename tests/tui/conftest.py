"""Fixtures for the agent console tests: the real server, a private config dir, the app.

The console is a pure protocol client and never touches storage, so these tests run on
SQLite only (the protocol suite covers both backends).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from textual.app import App
from textual.pilot import Pilot

from tests.support.clients import Clients, WsClient, cached_login, get
from tests.support.server import Account, DemoTenant, ServerProcess
from tui_agent.app import AgentConsole
from tui_agent.config import CONFIG_DIR_ENV, SavedSession, save_session
from tui_agent.desk import Conversation
from tui_agent.screens.main import MainScreen
from tui_agent.streams import Backoff

WAIT_SECS = 10.0
SIZE = (130, 40)


@pytest.fixture(scope="module", params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "steadydesk-config"
    monkeypatch.setenv(CONFIG_DIR_ENV, str(directory))
    return directory


def fast_backoff() -> Backoff:
    return Backoff(base_secs=0.2, cap_secs=1.0)


async def save_login(
    server: ServerProcess, config_dir: Path, account: Account | None = None,
    demo: DemoTenant | None = None,
) -> SavedSession:
    """Log in (cached per server) and save the token as the console would; ``demo`` picks
    another tenant than the server's demo one."""
    tenant = demo or server.demo
    assert tenant is not None
    account = account or tenant.agents[0]
    data = await cached_login(server, account, demo=demo)
    session = SavedSession(
        server.url,
        tenant.tenant,
        account.email,
        data["token"],
        data["expires_at"],
        dict(data["agent"]),
    )
    save_session(session, config_dir)
    return session


def console(config_dir: Path, **kwargs: Any) -> AgentConsole:
    return AgentConsole(config_path=config_dir, backoff=fast_backoff, **kwargs)


async def wait_until(
    pilot: Pilot[Any], check: Callable[[], object], what: str, limit_secs: float = WAIT_SECS
) -> None:
    """Poll ``check`` every 50 ms (letting the app run) until it holds, or fail."""
    deadline = time.monotonic() + limit_secs
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {limit_secs}s")
        await pilot.pause(0.05)


def desk_screen(app: App[Any]) -> MainScreen:
    for screen in reversed(app.screen_stack):
        if isinstance(screen, MainScreen):
            return screen
    raise AssertionError(f"no main screen in {app.screen_stack}")


def conversation(app: App[Any], conv: str) -> Conversation:
    return desk_screen(app).desk.get(conv)


def bodies(app: App[Any], conv: str) -> list[str]:
    return [m.body for m in conversation(app, conv).ordered()]


async def connected(pilot: Pilot[Any]) -> MainScreen:
    app = pilot.app
    assert isinstance(app, AgentConsole)
    await wait_until(
        pilot, lambda: any(isinstance(s, MainScreen) for s in app.screen_stack), "main screen shown"
    )
    screen = desk_screen(app)
    await wait_until(pilot, lambda: screen.client.live, "connected")
    return screen


async def visitor_starts(
    clients: Clients, server: ServerProcess, name: str, body: str, **fields: Any
) -> tuple[WsClient, str]:
    """A named visitor opens a conversation with ``body``; (client, conv id)."""
    visitor = await clients.visitor(
        server,
        name=name,
        email=f"{name.lower()}@example.com",
        page_url="https://shop.example/cart",
        referrer="https://search.example/?q=help",
        language="en",
        **fields,
    )
    ack = await visitor.send_and_ack(body)
    return visitor, str(ack["conv"])


async def grab(pilot: Pilot[Any], screen: MainScreen, conv: str) -> None:
    """Wait for ``conv`` in the queue, accept it with ctrl+g, wait until it is open."""
    await wait_until(pilot, lambda: conv in [c.id for c in screen.desk.queue()], "queued")
    await pilot.press("ctrl+g")
    await wait_until(
        pilot,
        lambda: screen.active == conv and screen.desk.is_mine(screen.desk.get(conv)),
        "accepted and open",
    )


@pytest_asyncio.fixture
async def clean_desk(server: ServerProcess, clients: Clients) -> AsyncIterator[None]:
    """Close every open conversation of the demo tenant first: tests that share a server
    must not see each other's queue."""
    assert server.demo is not None
    admin = await cached_login(server, server.demo.admin)
    resp = await get(
        server,
        "/api/v1/conversations?status=open&limit=200",
        {"Authorization": f"Bearer {admin['token']}"},
    )
    if resp.status_code == 200 and resp.json()["conversations"]:
        closer = await clients.agent(server, server.demo.admin, label="cleaner")
        for row in resp.json()["conversations"]:
            await closer.send_json({"type": "close", "conv": row["id"]})
            await closer.recv_event("conv.closed", row["id"])
        await closer.close()
    yield
