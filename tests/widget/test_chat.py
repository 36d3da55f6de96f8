"""The widget in a real browser, chatting with a real agent over the real server."""

from __future__ import annotations

import asyncio
import re
import uuid

from tests.support.clients import Clients
from tests.support.server import ServerProcess
from tests.widget.helpers import WidgetPage, accept, visitor_bodies, wait_visitor_bodies

# Counts notification beeps: every oscillator the widget starts.
COUNT_BEEPS_JS = """
window.__beeps = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__beeps++;
  return start.apply(this, args);
};
"""


def tag() -> str:
    return uuid.uuid4().hex[:8]


async def test_chat_both_ways_with_an_agent(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    t = tag()
    agent = await clients.agent(widget_server)
    await widget.goto(widget_server.url + "/")
    await widget.open()
    await widget.send(f"Hello from the widget {t}")
    conv = await widget.conversation()
    queued = await accept(agent, conv)
    assert queued["data"]["messages"][0]["body"] == f"Hello from the widget {t}"
    assert queued["data"]["visitor"]["page_url"] == widget_server.url + "/"
    await widget.wait_delivered([f"Hello from the widget {t}"])
    await widget.wait_text("Demo Agent 1 joined the conversation")

    # Typing, agent to visitor.
    await agent.send_json({"type": "typing", "conv": conv, "on": True})
    await widget.page.locator(".typing", has_text="Demo Agent 1 is typing").wait_for()

    # A reply with a link: the agent's name, a local time, a safe clickable link.
    await agent.send_and_ack(f"Sure {t}, see https://example.com/help?a=1&b=2 for details", conv)
    await widget.wait_text(f"Sure {t}, see https://example.com/help?a=1&b=2 for details")
    reply = widget.page.locator(".msg.their", has_text=f"Sure {t}")
    assert await reply.locator(".who").text_content() == "Demo Agent 1"
    link = reply.locator(".bubble a")
    assert await link.get_attribute("href") == "https://example.com/help?a=1&b=2"
    assert await link.get_attribute("target") == "_blank"
    assert "noopener" in (await link.get_attribute("rel") or "")
    stamp = reply.locator("time")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", await stamp.get_attribute("datetime") or ""
    )
    assert re.fullmatch(r"\d{1,2}:\d\d( [AP]M)?", await stamp.text_content() or "")
    assert await widget.page.locator(".typing").text_content() == ""  # a message ends typing

    # Read receipt, visitor to agent: the panel is open and visible.
    read = await agent.recv_until(
        lambda f: (
            f["type"] == "read"
            and f.get("conv") == conv
            and f["sender"]["type"] == "visitor"
            and f["seq"] >= 2
        ),
        10,
        "visitor read receipt",
    )
    assert read["seq"] == 2

    # Typing, visitor to agent (debounced), and off again after sending.
    await widget.page.locator("textarea").press_sequentially("Thanks", delay=30)
    on = await agent.recv_until(
        lambda f: f["type"] == "typing" and f.get("conv") == conv, 5, "typing on"
    )
    assert on["on"] is True and on["sender"]["type"] == "visitor"
    await widget.page.locator("textarea").press("Enter")
    off = await agent.recv_until(
        lambda f: f["type"] == "typing" and f.get("conv") == conv, 5, "typing off"
    )
    assert off["on"] is False
    assert await wait_visitor_bodies(agent, conv, ["Thanks"]) == ["Thanks"]
    assert await visitor_bodies(agent, conv) == [f"Hello from the widget {t}", "Thanks"]

    # Read receipt, agent to visitor: "Seen" under the visitor's last message.
    await agent.send_json({"type": "read", "conv": conv, "seq": 3})
    await widget.wait_log("items.some((i) => i.text === 'Thanks' && i.foot.includes('Seen'))")

    # Shown once each, in order.
    texts = [i["text"] for i in await widget.log() if "msg" in i["cls"]]
    assert texts == [
        f"Hello from the widget {t}",
        f"Sure {t}, see https://example.com/help?a=1&b=2 for details",
        "Thanks",
    ]


async def test_hidden_panel_gets_badge_sound_title_and_announcement(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    t = tag()
    await widget.page.add_init_script(COUNT_BEEPS_JS)
    agent = await clients.agent(widget_server)
    await widget.goto(widget_server.url + "/")
    title = await widget.page.title()
    await widget.open()  # a click: the browser lets the widget make sounds from now on
    await widget.send(f"Are you there {t}?")
    conv = await widget.conversation()
    await accept(agent, conv)
    await widget.close()

    await agent.send_and_ack(f"Yes {t}, how can I help?", conv)
    badge = widget.page.locator(".badge")
    await badge.wait_for(state="visible")
    assert await badge.text_content() == "1"
    launcher = widget.page.locator(".launcher")
    assert "1 unread message" in (await launcher.get_attribute("aria-label") or "")
    await widget.page.wait_for_function("() => document.title.startsWith('(1) New message')")
    await widget.page.wait_for_function("() => window.__beeps === 1")
    live = widget.page.locator("[aria-live=polite]")
    await live.filter(has_text=f"Demo Agent 1: Yes {t}, how can I help?").wait_for(state="attached")

    await agent.send_and_ack(f"Second {t}", conv)
    await widget.page.wait_for_function(
        "() => document.querySelector('[data-steadydesk]').shadowRoot"
        ".querySelector('.badge').textContent === '2'"
    )

    # Opening the panel reads them: badge gone, title restored, read receipt sent.
    await widget.open()
    await badge.wait_for(state="hidden")
    await widget.page.wait_for_function("(t) => document.title === t", arg=title)
    read = await agent.recv_until(
        lambda f: f["type"] == "read" and f.get("conv") == conv and f["seq"] == 3, 10, "read 3"
    )
    assert read["sender"]["type"] == "visitor"


async def test_visitor_ends_the_conversation_and_starts_a_new_one(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    t = tag()
    agent = await clients.agent(widget_server)
    await widget.goto(widget_server.url + "/")
    await widget.open()
    await widget.send(f"Quick question {t}")
    conv = await widget.conversation()
    await accept(agent, conv)

    await widget.page.get_by_role("button", name="End chat").click()
    await widget.page.get_by_role("button", name="End", exact=True).click()
    closed = await agent.recv_event("conv.closed", conv, 10)
    assert closed["data"]["by"]["type"] == "visitor"
    await widget.wait_text("Conversation ended")
    assert await widget.page.get_by_role("button", name="End chat").is_hidden()

    # Writing again opens a new conversation, linked to the old one; history stays.
    await widget.send(f"One more thing {t}")
    await widget.page.wait_for_function(
        "(old) => JSON.parse(localStorage.getItem(Object.keys(localStorage)"
        ".find((k) => k.endsWith(':chat')))).cur !== old",
        arg=conv,
    )
    new_conv = await widget.conversation()
    opened = [f for f in widget.frames_in if f.get("name") == "conv.opened"]
    assert opened[-1]["conv"] == new_conv and opened[-1]["data"]["previous"] == conv
    queued = await accept(agent, new_conv)
    assert [m["body"] for m in queued["data"]["messages"]] == [f"One more thing {t}"]
    await widget.wait_delivered([f"Quick question {t}", f"One more thing {t}"])


async def test_reload_keeps_history_and_pending_messages(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    """History renders from storage before any network; unsent messages survive a reload
    and are delivered once, in order, when the widget is back online."""
    t = tag()
    agent = await clients.agent(widget_server)
    page = widget.page
    await widget.goto(widget_server.url + "/")
    await widget.open()
    await widget.send(f"Before reload {t}")
    conv = await widget.conversation()
    await accept(agent, conv)
    await agent.send_and_ack(f"Agent reply {t}", conv)
    await widget.wait_text(f"Agent reply {t}")

    # The browser's sends never reach the server (everything else flows): the messages
    # stay in the outbox, shown as sending.
    dropping = True

    def forward(server, message):  # type: ignore[no-untyped-def]
        if not (dropping and '"type":"send"' in str(message)):
            server.send(message)

    async def drop_sends(route):  # type: ignore[no-untyped-def]
        server = route.connect_to_server()
        route.on_message(lambda m: forward(server, m))
        server.on_message(lambda m: route.send(m))

    await page.route_web_socket("**/ws/visitor*", drop_sends)
    await widget.reload()
    await widget.wait_state("up")
    await widget.send(f"Pending one {t}")
    await widget.send(f"Pending two {t}")
    await widget.wait_log("items.filter((i) => / pending/.test(i.cls)).length === 2")
    outbox = await widget.storage("outbox")
    assert [o["body"] for o in outbox] == [f"Pending one {t}", f"Pending two {t}"]

    # Reload with the session request held back: everything shows from storage alone.
    dropping = False
    release = []
    asked = asyncio.Event()

    async def hold_session(route):  # type: ignore[no-untyped-def]
        release.append(route)
        asked.set()

    await page.route("**/api/v1/visitor/session*", hold_session)
    await widget.reload()
    await widget.open()
    items = await widget.log()
    texts = [(i["text"], "pending" in i["cls"]) for i in items if "msg" in i["cls"]]
    assert texts == [
        (f"Before reload {t}", False),
        (f"Agent reply {t}", False),
        (f"Pending one {t}", True),
        (f"Pending two {t}", True),
    ]
    await asyncio.wait_for(asked.wait(), 10)  # the widget asks for its session on load
    for route in release:
        await route.continue_()
    await page.unroute("**/api/v1/visitor/session*")

    await widget.wait_delivered([f"Pending one {t}", f"Pending two {t}"])
    got = await wait_visitor_bodies(agent, conv, [f"Pending one {t}", f"Pending two {t}"])
    assert got == [f"Pending one {t}", f"Pending two {t}"]
    assert await visitor_bodies(agent, conv) == [
        f"Before reload {t}",
        f"Pending one {t}",
        f"Pending two {t}",
    ]
    assert await widget.storage("outbox") == []
    texts = [i["text"] for i in await widget.log() if "msg" in i["cls"]]
    assert texts == [
        f"Before reload {t}",
        f"Agent reply {t}",
        f"Pending one {t}",
        f"Pending two {t}",
    ]
