"""The six defects a visitor met in the walkthrough of issue #19, each as a visitor meets
it: Chromium on desktop and phone sizes, agents on the real server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import Browser

from tests.support.clients import Clients, WsClient
from tests.support.server import ServerProcess
from tests.widget.helpers import PHONE, WidgetPage, accept, artifact
from tests.widget.test_offline_prechat import CLOSED, admin_call, configure

GREETING = "How can we help?"


def tag() -> str:
    return uuid.uuid4().hex[:8]


async def set_status(agent: WsClient, state: str) -> None:
    await agent.send_json({"type": "status", "state": state})
    await agent.recv_event("agent.status")


async def everyone(server: ServerProcess, clients: Clients, state: str) -> list[WsClient]:
    """Both demo agents connected and in ``state`` (agents' status outlives a test)."""
    assert server.demo is not None
    agents = [await clients.agent(server, account) for account in server.demo.agents[:2]]
    for agent in agents:
        await set_status(agent, state)
    return agents


async def open_site(server: ServerProcess) -> None:
    await configure(server, hours=None, prechat={"enabled": False})


async def header_sub(widget: WidgetPage) -> str:
    return str(await widget.shadow_eval("return root.querySelector('header .sub').textContent"))


@pytest_asyncio.fixture
async def phone(browser: Browser, site_key: str) -> AsyncIterator[WidgetPage]:
    ctx = await browser.new_context(viewport=PHONE, locale="en-US", has_touch=True)
    page = await WidgetPage.new(ctx, site_key)
    try:
        yield page
        assert not page.errors, "errors in the page:\n" + "\n".join(page.errors)
    finally:
        await ctx.close()


# -- 1. the header follows the assignee; the visitor is told who joined -------------------


async def test_transfer_names_the_new_agent_in_the_header_and_the_log(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    await open_site(widget_server)
    first, second = await everyone(widget_server, clients, "online")
    await widget.goto(widget_server.url + "/")
    await widget.open()
    await widget.send(f"Help with my invoice {tag()}")
    conv = await widget.conversation()
    await accept(first, conv)
    await widget.wait_text("Demo Agent 1 joined the conversation")
    assert await header_sub(widget) == "Chatting with Demo Agent 1"
    avatar = widget.page.locator("header .avatar")
    assert await avatar.text_content() == "D1"
    assert second.welcome is not None
    await first.send_json(
        {"type": "transfer", "conv": conv, "to_agent": second.welcome["you"]["id"]}
    )
    await widget.wait_text("Your conversation was transferred to Demo Agent 2")
    await widget.page.screenshot(path=artifact("transfer-desktop.png"))
    assert await header_sub(widget) == "Chatting with Demo Agent 2"
    assert await avatar.text_content() == "D2"
    await widget.reload()  # the header is kept with the conversation
    await widget.open()
    await widget.wait_text("Your conversation was transferred to Demo Agent 2")
    assert await header_sub(widget) == "Chatting with Demo Agent 2"


# -- 2. rating does not scroll the panel away ---------------------------------------------


async def rate_and_check_panel(
    widget: WidgetPage, clients: Clients, server: ServerProcess, shot: str
) -> None:
    (agent, _) = await everyone(server, clients, "online")
    await widget.goto(server.url + "/")
    await widget.open()
    await widget.send(f"Question {tag()}")
    conv = await widget.conversation()
    await accept(agent, conv)
    for n in range(14):  # enough to make the log scroll
        await agent.send_and_ack(f"Answer line {n}\nwith a second line", conv)
    await widget.wait_text("Answer line 13")
    await agent.send_json({"type": "close", "conv": conv})
    page = widget.page
    await page.locator(".csat form").wait_for(state="visible")
    await page.locator(".csat label").nth(4).click()
    await page.get_by_role("button", name="Send rating").click()
    await page.locator(".csat.done").wait_for()
    await page.wait_for_timeout(300)
    await page.screenshot(path=artifact(shot))
    geometry = await widget.shadow_eval(
        "const p = root.querySelector('.panel'), h = root.querySelector('header'),"
        " f = root.querySelector('form:not(.csat-form)');"
        "return {scroll: p.scrollTop, panelTop: p.getBoundingClientRect().top,"
        " headTop: h.getBoundingClientRect().top, panelBottom: p.getBoundingClientRect().bottom,"
        " formBottom: f.getBoundingClientRect().bottom};"
    )
    assert geometry["scroll"] == 0, geometry
    assert abs(geometry["headTop"] - geometry["panelTop"]) < 1, geometry
    assert geometry["panelBottom"] - geometry["formBottom"] < 2, geometry  # no blank below
    await widget.close()  # the minimise button is still there to press


async def test_rating_keeps_the_panel_in_place_on_desktop(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    await open_site(widget_server)
    await rate_and_check_panel(widget, clients, widget_server, "rated-desktop.png")


async def test_rating_keeps_the_panel_in_place_on_a_phone(
    widget_server: ServerProcess, phone: WidgetPage, clients: Clients
) -> None:
    await open_site(widget_server)
    await rate_and_check_panel(phone, clients, widget_server, "rated-phone.png")


# -- 3. "No one is available" goes when someone is -----------------------------------------


async def test_no_one_available_goes_when_an_agent_joins(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    await open_site(widget_server)
    agent, _ = await everyone(widget_server, clients, "offline")
    await widget.goto(widget_server.url + "/")
    await widget.open()
    notice = widget.page.locator(".avail")
    await notice.wait_for(state="visible")  # nobody online (the site's own wording)
    await widget.send(f"Anyone? {tag()}")
    conv = await widget.conversation()
    await accept(agent, conv)  # an agent who is not "online" may still take it
    await widget.wait_text("Demo Agent 1 joined the conversation")
    await notice.wait_for(state="hidden", timeout=3000)


async def test_no_one_available_goes_when_an_agent_comes_online(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    await open_site(widget_server)
    agent, _ = await everyone(widget_server, clients, "offline")
    await widget.goto(widget_server.url + "/")
    await widget.open()
    notice = widget.page.locator(".avail")
    await notice.wait_for(state="visible")
    await widget.wait_state("up")
    await set_status(agent, "online")
    # The widget asks again every two heartbeats (3 s in this suite) while it shows it.
    await notice.wait_for(state="hidden", timeout=15000)
    assert await widget.page.locator(".details input[name=email]").is_hidden()


# -- 4. the greeting comes before the visitor's first message ------------------------------


async def test_greeting_is_shown_before_the_first_message(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    await configure(widget_server, hours=None, prechat={"enabled": False})
    site = widget_server.demo.site_key  # type: ignore[union-attr]
    await admin_call(
        widget_server, "PUT", f"/sites/{site}/hours", {"hours": None, "welcome_message": GREETING}
    )
    agent, _ = await everyone(widget_server, clients, "online")
    await widget.goto(widget_server.url + "/")
    await widget.open()
    question = f"Where is my parcel {tag()}?"
    await widget.send(question)
    conv = await widget.conversation()
    queued = await agent.recv_event("conv.queued", conv)
    assert queued["data"]["messages"][-1]["body"] == question
    await widget.wait_text(GREETING)
    await widget.wait_delivered([question])
    texts = [i["text"] for i in await widget.log() if "msg" in i["cls"]]
    assert texts == [GREETING, question]
    listed = await admin_call(widget_server, "GET", "/conversations?status=queued&limit=200")
    card = next(c for c in listed["conversations"] if c["id"] == conv)
    assert card["last_message"]["body"] == question


# -- 5. a long paste is not cut without a word ---------------------------------------------


async def test_long_text_gets_a_counter_and_is_refused_not_cut(
    widget_server: ServerProcess, widget: WidgetPage
) -> None:
    await open_site(widget_server)
    await widget.goto(widget_server.url + "/")
    await widget.open()
    page = widget.page
    box = page.locator("textarea")
    counter = page.locator(".count")
    await box.fill("a" * 3000)
    assert await counter.is_hidden()  # far from the limit: no counter
    await box.fill("b" * 3900)
    await counter.wait_for(state="visible")
    assert (await counter.text_content() or "").startswith("3,900 / 4,000")
    long_text = ("word " * 2240).strip()  # 11,199 characters, pasted at once
    await box.evaluate(
        "(el, text) => { el.focus(); document.execCommand('selectAll');"
        " document.execCommand('insertText', false, text); }",
        long_text,
    )
    assert await box.evaluate("(el) => el.value.length") == len(long_text)  # nothing cut
    assert "11,199 / 4,000" in (await counter.text_content() or "")
    assert "too long" in (await counter.text_content() or "")
    assert await page.locator("button.send").is_disabled()
    await box.press("Enter")
    await page.wait_for_timeout(300)
    assert await widget.storage("outbox") in (None, [])  # nothing queued, nothing cut
    assert await box.evaluate("(el) => el.value.length") == len(long_text)  # kept to edit
    await page.screenshot(path=artifact("too-long-desktop.png"))


# -- 6. after the end, the header says so; after hours, the e-mail is asked for -----------


async def test_header_says_ended_after_close(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    await open_site(widget_server)
    agent, _ = await everyone(widget_server, clients, "online")
    await widget.goto(widget_server.url + "/")
    await widget.open()
    await widget.send(f"Bye soon {tag()}")
    conv = await widget.conversation()
    await accept(agent, conv)
    await widget.wait_text("Demo Agent 1 joined the conversation")
    await agent.send_json({"type": "close", "conv": conv})
    await widget.wait_text("Conversation ended")
    await widget.page.screenshot(path=artifact("ended-desktop.png"))
    assert await header_sub(widget) == "Conversation ended"
    assert await widget.page.locator("header .avatar").is_hidden()


async def test_after_hours_form_needs_the_email_it_promises_to_use(
    widget_server: ServerProcess, phone: WidgetPage
) -> None:
    await configure(widget_server, hours=CLOSED, prechat={"enabled": False})
    widget = phone
    await widget.goto(widget_server.url + "/")
    await widget.open()
    page = widget.page
    await page.locator(".avail").wait_for(state="visible")
    await page.locator(".details input[name=name]").fill("Ada")
    await widget.send("Please write back")
    error = page.locator(".details .err")
    await error.wait_for(state="visible")
    assert "e-mail" in (await error.text_content() or "").lower()
    assert await widget.storage("outbox") in (None, [])  # not sent without it
    label = await page.locator("[data-field=email] span").text_content() or ""
    assert "optional" not in label
    await page.screenshot(path=artifact("after-hours-email-phone.png"))
    await page.locator(".details input[name=email]").fill("ada@example.com")
    await page.locator("textarea").press("Enter")
    await widget.wait_delivered(["Please write back"])
