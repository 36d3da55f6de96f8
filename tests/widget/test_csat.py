# Chinese UI strings use full-width punctuation on purpose:
# ruff: noqa: RUF001
"""The CSAT prompt: the agent closes, the visitor rates from the keyboard, the agent sees it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import Browser, BrowserContext

from tests.support.clients import Clients, cached_login, get
from tests.support.server import ServerProcess
from tests.widget.helpers import DESKTOP, WidgetPage, accept, artifact


@pytest_asyncio.fixture
async def browser_context_zh(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport=DESKTOP, locale="zh-TW")
    try:
        yield ctx
    finally:
        await ctx.close()


async def test_rate_after_close_with_the_keyboard(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    tag = uuid.uuid4().hex[:8]
    agent = await clients.agent(widget_server)
    await widget.goto(widget_server.url + "/")
    await widget.open()
    await widget.send(f"Help please {tag}")
    conv = await widget.conversation()
    await accept(agent, conv)
    await widget.wait_delivered([f"Help please {tag}"])
    await agent.send_json({"type": "close", "conv": conv})
    page = widget.page

    form = page.locator(".csat form")
    await form.wait_for(state="visible")
    assert await page.get_by_role("group", name="How was this conversation?").is_visible()
    send = page.get_by_role("button", name="Send rating")
    assert await send.is_disabled()  # nothing chosen yet
    # Keyboard only: into the star group, arrows to 4 stars, Tab to the comment, Tab, Enter.
    first = page.get_by_role("radio", name="1 of 5 stars")
    await first.focus()
    await page.keyboard.press("Space")
    for _ in range(3):
        await page.keyboard.press("ArrowRight")
    assert await page.get_by_role("radio", name="4 of 5 stars").is_checked()
    assert await page.locator(".csat label.on").count() == 4
    await page.keyboard.press("Tab")
    await page.keyboard.type(f"Very helpful {tag}")
    await page.keyboard.press("Tab")
    assert await send.evaluate("(b) => b.getRootNode().activeElement === b")
    await page.screenshot(path=artifact("csat-prompt.png"))
    await page.keyboard.press("Enter")

    rated = await agent.recv_event("conv.rated", conv, 10)
    assert rated["data"]["rating"] == 4
    assert rated["data"]["comment"] == f"Very helpful {tag}"
    await page.locator(".csat.done", has_text="Thanks for your feedback!").wait_for()
    assert await page.locator(".csat.done .stars .on").count() == 4
    token = (await cached_login(widget_server, widget_server.demo.agents[0]))["token"]  # type: ignore[union-attr]
    cards = await get(widget_server, "/api/v1/conversations?status=closed&limit=200",
                      {"authorization": f"Bearer {token}"})
    card = next(c for c in cards.json()["conversations"] if c["id"] == conv)
    assert card["rating"]["rating"] == 4

    # The thanks (not a second prompt) survives a reload.
    await widget.reload()
    await widget.open()
    await page.locator(".csat.done").wait_for()
    assert await page.locator(".csat form").count() == 0


async def test_prompt_in_traditional_chinese(
    widget_server: ServerProcess, browser_context_zh: BrowserContext, clients: Clients
) -> None:
    assert widget_server.demo is not None
    widget = await WidgetPage.new(browser_context_zh, widget_server.demo.site_key)
    agent = await clients.agent(widget_server)
    await widget.goto(widget_server.url + "/")
    await widget.open()
    await widget.send("你好")
    conv = await widget.conversation()
    await accept(agent, conv)
    await agent.send_json({"type": "close", "conv": conv})
    page = widget.page
    await page.get_by_role("group", name="您對這次服務滿意嗎？").wait_for()
    await page.locator(".stars label[title='5 顆星（共 5 顆星）']").click()  # a click on the star
    assert await page.get_by_role("radio", name="5 顆星（共 5 顆星）").is_checked()
    await page.get_by_role("button", name="送出評價").click()
    rated = await agent.recv_event("conv.rated", conv, 10)
    assert rated["data"] == {**rated["data"], "rating": 5, "comment": None}
    await page.locator(".csat.done", has_text="感謝您的評價！").wait_for()
    assert not widget.errors, widget.errors
