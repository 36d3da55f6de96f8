"""Fixtures of the widget suite: Chromium (Debian's, never a downloaded one) driven by
Playwright, and a Steadydesk server whose demo site allows the server's own origin.

Chromium or the ``playwright`` package missing: the suite is skipped with the reason, or
fails when STEADY_TEST_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

if os.environ.get("STEADY_TEST_REQUIRE_SERVICES") != "1":
    pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")

from playwright.async_api import Browser, BrowserContext, async_playwright

from tests.support.server import ServerFactory, ServerProcess
from tests.widget.helpers import DESKTOP, LAUNCH_ARGS, WidgetPage, chromium_or_skip

# Short heartbeats: the widget pings at the server's interval and gives up on a socket
# that does not answer, so dead links are found in seconds, not a minute.
WIDGET_SERVER_ENV = {"STEADY_HEARTBEAT_SECS": "3"}


def start_widget_server(
    factory: ServerFactory, port: int | None = None, env: dict[str, str] | None = None
) -> ServerProcess:
    """A server whose demo site allows ``http://127.0.0.1:<port>`` (its own port unless a
    proxy's is given): ``steadydesk demo`` takes the origin from STEADY_PORT."""
    srv = factory(env={**WIDGET_SERVER_ENV, **(env or {})}, start=False)
    # Only for `demo`: `serve` must listen on its own port (STEADY_PORT would win over
    # its --port flag).
    srv.extra_env["STEADY_PORT"] = str(port or srv.port)
    srv.demo = srv.run_demo()
    del srv.extra_env["STEADY_PORT"]
    srv.start()
    return srv


@pytest.fixture(scope="module", params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The widget suite runs on SQLite: what a browser sees does not depend on the backend,
    and every storage path the widget reaches is covered on both by the protocol, context
    and attachment suites (CI's time is a budget: Chromium against each backend cost it
    minutes). A module whose subject is storage asks for both (``test_long_bodies.py``)."""
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def widget_server(module_server_factory: ServerFactory) -> ServerProcess:
    return start_widget_server(module_server_factory)


@pytest.fixture(scope="module")
def site_key(widget_server: ServerProcess) -> str:
    assert widget_server.demo is not None
    return widget_server.demo.site_key


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    path = chromium_or_skip()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=path, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh profile (empty storage) per test."""
    ctx = await browser.new_context(viewport=DESKTOP, locale="en-US")
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest_asyncio.fixture
async def widget(context: BrowserContext, site_key: str) -> AsyncIterator[WidgetPage]:
    """A page for the widget; the test fails if the page threw or logged an error."""
    page = await WidgetPage.new(context, site_key)
    yield page
    assert not page.errors, "errors in the page:\n" + "\n".join(page.errors)
