"""Driving the widget in Chromium (Playwright) and an agent next to it.

``WidgetPage`` wraps a page that embeds the widget: it records page errors, console
errors and dialogs (an XSS canary), and reads the widget's shadow DOM and storage. Every
wait is bounded.
"""

# Bounded waits take an explicit per-call timeout (every wait in the suite must end):
# ruff: noqa: ASYNC109
from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page

from tests.support.clients import Frame, WsClient
from tests.support.server import REPO_ROOT

CHROMIUM = os.environ.get("STEADY_TEST_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Test host pages are fulfilled by Playwright's router, so Chromium does not know
    # their address and treats them as public; its Local Network Access checks would then
    # block their WebSocket to 127.0.0.1. (Real host pages have a real address.)
    "--disable-features=LocalNetworkAccessChecks",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ARTIFACTS = REPO_ROOT / "test-artifacts" / "widget"
WAIT_SECS = 15.0  # default bound for a widget condition

# The shadow root, from page scripts.
SHADOW = "document.querySelector('[data-steadydesk]').shadowRoot"

# The log as [{cls, who, text, foot}]; a <br> in a bubble reads as a newline.
READ_LOG_JS = f"""() => {{
  const root = {SHADOW};
  const text = (el) => {{
    const copy = el.cloneNode(true);
    copy.querySelectorAll('br').forEach((br) => br.replaceWith('\\n'));
    return copy.textContent;
  }};
  return [...root.querySelectorAll('.log > li')].map((li) => ({{
    cls: li.className,
    who: (li.querySelector('.who') || {{}}).textContent || '',
    text: text(li.querySelector('.bubble') || li),
    foot: (li.querySelector('.foot') || {{}}).textContent || '',
  }}));
}}"""


def chromium_or_skip() -> str:
    """The Chromium to drive; skip (fail in CI) when it is missing."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("STEADY_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


class WidgetPage:
    def __init__(self, page: Page, site_key: str) -> None:
        self.page = page
        self.site_key = site_key
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self._pending: set[asyncio.Future[None]] = set()
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._console)
        page.on("dialog", self._dialog)
        page.on("websocket", self._websocket)
        self.frames_in: list[dict[str, Any]] = []  # every frame the widget received
        self.frames_out: list[dict[str, Any]] = []  # and sent
        self.sockets: list[float] = []  # when each WebSocket was created (event-loop time)

    def _websocket(self, ws: Any) -> None:
        self.sockets.append(asyncio.get_running_loop().time())

        def record(into: list[dict[str, Any]], payload: str | bytes) -> None:
            with contextlib.suppress(ValueError):
                into.append(json.loads(payload))

        ws.on("framereceived", lambda payload: record(self.frames_in, payload))
        ws.on("framesent", lambda payload: record(self.frames_out, payload))

    @classmethod
    async def new(cls, context: BrowserContext, site_key: str) -> WidgetPage:
        page = await context.new_page()
        page.set_default_timeout(WAIT_SECS * 1000)
        return cls(page, site_key)

    def _console(self, message: Any) -> None:
        text = message.text
        # Network failures while a test cuts the network are expected; favicon is noise.
        if (
            message.type == "error"
            and "favicon" not in text
            and "ERR_" not in text
            and "Failed to load resource" not in text
            and "WebSocket" not in text
        ):
            self.errors.append(f"console: {text}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        self._pending.add(asyncio.ensure_future(dialog.dismiss()))

    # ------------------------------------------------------------------ navigation

    async def goto(self, url: str) -> None:
        await self.page.goto(url, wait_until="domcontentloaded")
        await self.page.locator(".launcher").wait_for(state="visible")

    async def reload(self) -> None:
        await self.page.reload(wait_until="domcontentloaded")
        await self.page.locator(".launcher").wait_for(state="visible")

    # ------------------------------------------------------------------ actions

    async def open(self) -> None:
        if await self.page.locator(".panel").is_hidden():
            await self.page.locator(".launcher").click()
        await self.page.locator(".panel").wait_for(state="visible")

    async def close(self) -> None:
        if await self.page.locator(".panel").is_visible():
            await self.page.locator("header .icon").click()
        await self.page.locator(".panel").wait_for(state="hidden")

    async def send(self, text: str) -> None:
        box = self.page.locator("textarea")
        await box.fill(text)
        await box.press("Enter")

    # ------------------------------------------------------------------ reading

    async def state(self) -> str:
        return str(await self.page.locator(".root").get_attribute("data-state"))

    async def wait_state(self, state: str, timeout: float = WAIT_SECS) -> None:
        await self.page.wait_for_function(
            f"() => {SHADOW}.querySelector('.root').dataset.state === {json.dumps(state)}",
            timeout=timeout * 1000,
        )

    async def log(self) -> list[dict[str, str]]:
        items: list[dict[str, str]] = await self.page.evaluate(READ_LOG_JS)
        return items

    async def wait_log(self, condition_js: str, timeout: float = WAIT_SECS) -> None:
        """Wait until ``condition_js`` (a JS expression over ``items``, the log) is true."""
        await self.page.wait_for_function(
            f"() => {{ const items = ({READ_LOG_JS})(); return {condition_js}; }}",
            timeout=timeout * 1000,
        )

    async def wait_text(self, text: str, timeout: float = WAIT_SECS) -> None:
        await self.wait_log(f"items.some((i) => i.text.includes({json.dumps(text)}))", timeout)

    async def wait_delivered(self, bodies: list[str], timeout: float = WAIT_SECS) -> None:
        """Every body shown once as the visitor's own, stored (not pending) message."""
        await self.wait_log(
            f"{json.dumps(bodies)}.every((b) => items.filter((i) => i.text === b"
            " && / own/.test(' ' + i.cls) && !/pending|failed/.test(i.cls)).length === 1)",
            timeout,
        )

    async def storage(self, key: str) -> Any:
        raw = await self.page.evaluate(
            "(k) => localStorage.getItem(k)", f"steadydesk:{self.site_key}:{key}"
        )
        return json.loads(raw) if raw else None

    async def conversation(self, timeout: float = WAIT_SECS) -> str:
        """The widget's current conversation id, once it has one."""
        key = f"steadydesk:{self.site_key}:chat"
        handle = await self.page.wait_for_function(
            f"() => {{ const s = JSON.parse(localStorage.getItem({json.dumps(key)}) || '{{}}');"
            " return s.cur || false; }",
            timeout=timeout * 1000,
        )
        return str(await handle.json_value())

    async def shadow_eval(self, body_js: str) -> Any:
        """Evaluate ``body_js`` with ``root`` bound to the widget's shadow root."""
        return await self.page.evaluate(f"() => {{ const root = {SHADOW}; {body_js} }}")


# ---------------------------------------------------------------------- agent side


async def accept(agent: WsClient, conv: str, timeout: float = WAIT_SECS) -> Frame:
    """Wait for ``conv`` in the agent's queue, accept it; the `conv.queued` event."""
    queued = await agent.recv_until(
        lambda f: f["type"] == "event" and f.get("name") == "conv.queued" and f.get("conv") == conv,
        timeout,
        f"conv.queued for {conv}",
    )
    await agent.send_json({"type": "accept", "conv": conv})
    await agent.recv_until(
        lambda f: (
            f["type"] == "event" and f.get("name") == "conv.assigned" and f.get("conv") == conv
        ),
        timeout,
        f"conv.assigned for {conv}",
    )
    return queued


async def visitor_bodies(agent: WsClient, conv: str) -> list[str]:
    """The visitor's messages in ``conv`` as stored, in seq order (via `sync`)."""
    history = await agent.history(conv)
    return [m["body"] for m in history if m["sender"]["type"] == "visitor"]


async def wait_visitor_bodies(
    agent: WsClient, conv: str, expected: list[str], timeout: float = WAIT_SECS
) -> list[str]:
    """Wait until the agent has received ``expected`` live (as the visitor's messages of
    ``conv``); then return what the agent received, in order."""

    def received() -> list[str]:
        return [m["body"] for m in agent.messages(conv) if m["sender"]["type"] == "visitor"]

    await agent.wait_state(
        lambda: set(expected) <= set(received()), timeout, f"visitor messages {expected} in {conv}"
    )
    return received()
