"""The live monitor in the console (issue #18 item 4): an admin watches a real Chromium
visitor arrive on a page and navigate, then invites them; the widget opens with the
admin's greeting. The page title is hostile markup: it must show as text."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")

from playwright.async_api import BrowserContext
from textual.widgets import DataTable

from tests.support.server import ServerFactory, ServerProcess
from tests.tui.conftest import SIZE, connected, console, save_login, wait_until
from tests.tui.snapshots import assert_snapshot, columns_sized
from tests.widget.conftest import browser, start_widget_server  # noqa: F401 (a fixture)
from tests.widget.helpers import DESKTOP, WidgetPage
from tui_agent.screens.invite import InviteScreen
from tui_agent.screens.monitor import MonitorScreen

HOSTILE_TITLE = "Shoes [bold red]SALE[/] [@click=app.quit]x[/]"
HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>Shop</h1>
<script src="/widget.js" data-site="{site_key}" data-track="on" async></script></body></html>"""


@pytest.fixture(scope="module")
def server(module_server_factory: ServerFactory) -> ServerProcess:
    """Its demo site allows the server's own origin, where the host page is served."""
    return start_widget_server(module_server_factory)


@pytest_asyncio.fixture
async def shopper(browser) -> AsyncIterator[BrowserContext]:  # type: ignore[no-untyped-def]  # noqa: F811
    ctx = await browser.new_context(viewport=DESKTOP, locale="en-US")
    try:
        yield ctx
    finally:
        await ctx.close()


async def test_admin_watches_a_visitor_browse_and_invites_them(
    server: ServerProcess, config_dir: Path, shopper: BrowserContext
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.admin)
    widget = await WidgetPage.new(shopper, server.demo.site_key)
    host = f"{server.url}/__monitor_test/shop.html"
    html = HOST_PAGE.format(title=HOSTILE_TITLE, site_key=server.demo.site_key)

    async def fulfill(route):  # type: ignore[no-untyped-def]
        await route.fulfill(body=html, content_type="text/html; charset=utf-8")

    await widget.page.route(host, fulfill)
    app = console(config_dir)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, MonitorScreen), "monitor shown")
        monitor = app.screen
        assert isinstance(monitor, MonitorScreen)
        await wait_until(pilot, lambda: monitor.loaded, "snapshot loaded")

        # A shopper arrives: the widget (data-track="on") connects without being opened.
        await widget.goto(host)
        state = monitor.state
        await wait_until(pilot, lambda: any(v.title == HOSTILE_TITLE
                                            for v in state.visitors.values()), "visitor seen")
        (vid,) = [v.id for v in state.visitors.values() if v.title == HOSTILE_TITLE]
        visitor = state.visitors[vid]  # the row is replaced when the snapshot is read again
        assert visitor.url == host and not visitor.in_chat
        await wait_until(pilot, lambda: monitor.query_one(DataTable).row_count == 1, "row drawn")
        cells = [str(c) for c in monitor.query_one("#monitor-visitors", DataTable).get_row(
            vid)]
        assert cells[1] == HOSTILE_TITLE  # shown as text: no markup parsed, no action bound
        assert cells[3] == "browsing"

        # It navigates within the single-page app: the monitor follows.
        await widget.page.evaluate(
            "() => { history.pushState({}, '', '/checkout?step=2'); document.title = 'Checkout'; }"
        )
        await wait_until(pilot, lambda: state.visitors[vid].url.endswith("/checkout?step=2")
                         and state.visitors[vid].title == "Checkout", "navigation seen")
        assert await widget.page.locator(".panel").is_hidden()
        monitor.redraw()
        table = monitor.query_one("#monitor-visitors", DataTable)
        await wait_until(pilot, lambda: columns_sized(table), "columns sized")
        await pilot.pause(0.1)
        assert_snapshot(app, "monitor")  # names, pages, times: no ids, no clock times

        # i invites the highlighted (only) visitor with a greeting.
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, InviteScreen), "invite dialog")
        box = app.screen.query_one("#invite-greeting")
        box.value = ""  # type: ignore[attr-defined]
        await pilot.press(*"Hi! Need a hand with checkout?")
        await pilot.press("enter")
        await widget.page.locator(".panel").wait_for(state="visible")
        await widget.wait_text("Hi! Need a hand with checkout?")
        await wait_until(pilot, lambda: state.visitors[vid].in_chat, "visitor shown in a chat")
        assert state.visitors[vid].chat_label().startswith("with ")
        opened = [f for f in widget.frames_in if f.get("name") == "conv.opened"]
        assert opened and opened[-1]["data"]["invited_by"]["type"] == "agent", json.dumps(opened)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, MonitorScreen), "back")
    assert not widget.errors, widget.errors


async def test_an_agent_is_told_the_monitor_is_for_admins(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.agents[0])
    app = console(config_dir)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        await pilot.press("f8")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, MonitorScreen)
        assert any("for admins" in str(n.message) for n in app._notifications)
