"""Never lose a message: the widget through cut networks, resets and a killed server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import BrowserContext

from tests.support.clients import Clients, WsClient
from tests.support.server import ServerFactory, ServerProcess
from tests.support.tcp_proxy import TcpProxy
from tests.widget.conftest import start_widget_server
from tests.widget.helpers import WidgetPage, accept, visitor_bodies, wait_visitor_bodies

RECOVERY_SECS = 40.0  # dead-socket detection + backoff + connect timeout, with room

WATCH_BANNER_JS = """() => {
  const root = document.querySelector('[data-steadydesk]').shadowRoot;
  const banner = root.querySelector('.banner');
  window.__banners = [];
  new MutationObserver(() => { if (!banner.hidden) window.__banners.push(banner.textContent); })
    .observe(banner, { attributes: true, childList: true, characterData: true, subtree: true });
}"""


@pytest_asyncio.fixture
async def proxied(server_factory: ServerFactory) -> AsyncIterator[tuple[TcpProxy, ServerProcess]]:
    """A server reached only through a proxy: the page, the script, the API and the
    WebSocket all go through it, and the demo site allows the proxy's origin."""
    proxy = TcpProxy(target_port=0)
    srv = await asyncio.to_thread(start_widget_server, server_factory, proxy.port)
    proxy.target = ("127.0.0.1", srv.port)
    await proxy.start()
    try:
        yield proxy, srv
    finally:
        await proxy.stop()


async def new_widget(context: BrowserContext, srv: ServerProcess) -> WidgetPage:
    assert srv.demo is not None
    return await WidgetPage.new(context, srv.demo.site_key)


async def start_chat(widget: WidgetPage, url: str, agent: WsClient, text: str) -> str:
    await widget.goto(url)
    await widget.open()
    await widget.send(text)
    conv = await widget.conversation()
    await accept(agent, conv)
    await widget.wait_delivered([text])
    return conv


async def test_lost_acks_then_a_full_cut_lose_and_duplicate_nothing(
    proxied: tuple[TcpProxy, ServerProcess], context: BrowserContext, clients: Clients
) -> None:
    proxy, srv = proxied
    t = uuid.uuid4().hex[:6]
    widget = await new_widget(context, srv)
    agent = await clients.agent(srv)  # straight to the server: only the visitor's link fails
    conv = await start_chat(widget, proxy.url + "/", agent, f"hello {t}")
    await widget.page.evaluate(WATCH_BANNER_JS)

    # 1. Server-to-browser cut: the first message is stored but its ack never arrives.
    proxy.cut(up=False, down=True)
    lost_acks = [f"lost ack {i} {t}" for i in range(1, 4)]
    for body in lost_acks:
        await widget.send(body)
    assert await wait_visitor_bodies(agent, conv, lost_acks[:1]) == lost_acks[:1]
    await widget.wait_log("items.filter((i) => / pending/.test(i.cls)).length === 3")
    assert [o["body"] for o in await widget.storage("outbox")] == lost_acks
    await widget.page.locator(".banner", has_text="Reconnecting").wait_for(timeout=15_000)
    assert await widget.state() == "down"

    proxy.restore()
    await widget.wait_delivered(lost_acks, timeout=RECOVERY_SECS)
    await widget.wait_state("up")
    assert await wait_visitor_bodies(agent, conv, lost_acks) == lost_acks  # once, in order
    assert await widget.page.locator(".banner").is_hidden()

    # 2. Both ways cut: the visitor writes, the agent writes, nobody hears anything.
    proxy.cut(up=True, down=True)
    offline = [f"offline {i} {t}" for i in range(1, 3)]
    for body in offline:
        await widget.send(body)
    await agent.send_and_ack(f"agent while cut {t}", conv)
    await widget.page.locator(".banner", has_text="Reconnecting").wait_for(timeout=15_000)
    proxy.restore()
    await widget.wait_delivered(offline, timeout=RECOVERY_SECS)
    await widget.wait_text(f"agent while cut {t}", timeout=RECOVERY_SECS)
    assert await wait_visitor_bodies(agent, conv, offline) == lost_acks + offline

    # Stored once each; the widget shows exactly the stored conversation, in seq order.
    history = await agent.history(conv)
    bodies = [m["body"] for m in history]
    assert len(bodies) == len(set(bodies))
    assert await visitor_bodies(agent, conv) == [f"hello {t}", *lost_acks, *offline]
    shown = [
        i["text"] for i in await widget.log() if " own" in f" {i['cls']}" or "their" in i["cls"]
    ]
    assert shown == bodies
    assert await widget.storage("outbox") == []
    assert proxy.dropped["down"] > 0 and proxy.dropped["up"] > 0
    assert not widget.errors, widget.errors


async def test_a_brief_drop_reconnects_without_flashing_a_banner(
    proxied: tuple[TcpProxy, ServerProcess], context: BrowserContext, clients: Clients
) -> None:
    proxy, srv = proxied
    t = uuid.uuid4().hex[:6]
    widget = await new_widget(context, srv)
    agent = await clients.agent(srv)
    conv = await start_chat(widget, proxy.url + "/", agent, f"hi {t}")
    await widget.page.evaluate(WATCH_BANNER_JS)
    sockets_before = proxy.accepted

    proxy.reset_all()  # every connection drops at once, like a Wi-Fi to mobile hand-over
    await widget.page.wait_for_function(
        "() => document.querySelector('[data-steadydesk]').shadowRoot"
        ".querySelector('.root').dataset.state !== 'up'",
        timeout=5_000,
    )
    await widget.wait_state("up", timeout=5)
    assert proxy.accepted > sockets_before
    await agent.send_and_ack(f"after the drop {t}", conv)
    await widget.wait_text(f"after the drop {t}")
    assert await widget.page.evaluate("() => window.__banners") == []
    assert not widget.errors, widget.errors


async def test_killed_server_comes_back_and_nothing_is_lost(
    server_factory: ServerFactory, context: BrowserContext, clients: Clients
) -> None:
    srv = await asyncio.to_thread(start_widget_server, server_factory)
    t = uuid.uuid4().hex[:6]
    widget = await new_widget(context, srv)
    agent = await clients.agent(srv)
    conv = await start_chat(widget, srv.url + "/", agent, f"before the crash {t}")
    await agent.send_and_ack(f"agent before the crash {t}", conv)
    await widget.wait_text(f"agent before the crash {t}")

    await asyncio.to_thread(srv.kill9)
    during = [f"during the outage {i} {t}" for i in range(1, 4)]
    for body in during:
        await widget.send(body)
    await widget.page.locator(".banner", has_text="Reconnecting").wait_for(timeout=15_000)
    assert [o["body"] for o in await widget.storage("outbox")] == during

    await asyncio.to_thread(srv.restart)
    await widget.wait_delivered(during, timeout=RECOVERY_SECS)
    await widget.wait_state("up")

    # The agent's connection died with the server: it comes back with `resume`.
    last_seq = max(int(m["seq"]) for m in agent.messages(conv))
    again = await clients.agent(srv, resume={conv: last_seq})
    assert await wait_visitor_bodies(again, conv, during) == during
    assert await visitor_bodies(again, conv) == [f"before the crash {t}", *during]
    await again.send_and_ack(f"agent after the restart {t}", conv)
    await widget.wait_text(f"agent after the restart {t}")
    shown = [i["text"] for i in await widget.log() if "msg" in i["cls"]]
    assert shown == [m["body"] for m in await again.history(conv)]
    assert not widget.errors, widget.errors


async def test_refused_messages_show_an_error_and_rate_limits_are_waited_out(
    server_factory: ServerFactory, context: BrowserContext, clients: Clients
) -> None:
    srv = await asyncio.to_thread(
        start_widget_server,
        server_factory,
        None,
        {
            "STEADY_WS_RATE_VISITOR": "3",
            "STEADY_WS_RATE_WINDOW_SECS": "2",
            "STEADY_BODY_MAX_CHARS": "40",
        },
    )
    widget = await new_widget(context, srv)
    agent = await clients.agent(srv)
    conv = await start_chat(widget, srv.url + "/", agent, "first")

    too_long = "x" * 41
    burst = [f"burst {i}" for i in range(1, 7)]
    await widget.send(too_long)
    for body in burst:
        await widget.send(body)
    # The long one fails visibly and is not retried; the burst runs into the rate limit
    # (3 sends per 2 s), waits and goes on: each stored once, in order.
    await widget.wait_log(
        f"items.some((i) => i.text === '{too_long}' && i.cls.includes('failed')"
        " && i.foot.includes('too long'))"
    )
    await widget.wait_delivered(burst, timeout=RECOVERY_SECS)
    assert await wait_visitor_bodies(agent, conv, burst) == burst
    assert await visitor_bodies(agent, conv) == ["first", *burst]
    assert await widget.storage("outbox") == []
    failed = await widget.storage("chat")
    assert [f["code"] for f in failed["failed"]] == ["body_too_long"]
    limited = [f["cid"] for f in widget.frames_in if f.get("code") == "rate_limited"]
    assert limited, "the burst never hit the rate limit"
    sent = [f["cid"] for f in widget.frames_out if f["type"] == "send"]
    assert all(sent.count(cid) >= 2 for cid in limited)  # sent again, same cid

    await widget.page.get_by_role("button", name="Dismiss").click()
    await widget.wait_log(f"!items.some((i) => i.text === '{too_long}')")
    assert not widget.errors, widget.errors


async def test_back_online_reconnects_at_once(
    proxied: tuple[TcpProxy, ServerProcess], context: BrowserContext, clients: Clients
) -> None:
    """The browser's `online` event ends the backoff: the widget reconnects at once."""
    proxy, srv = proxied
    t = uuid.uuid4().hex[:6]
    widget = await new_widget(context, srv)
    agent = await clients.agent(srv)
    conv = await start_chat(widget, proxy.url + "/", agent, f"hi {t}")

    proxy.cut()  # the open socket dies silently...
    await context.set_offline(True)  # ...and `offline` makes the widget check it at once
    await widget.wait_state("down", timeout=10)
    await widget.send(f"written offline {t}")
    # Offline, every attempt fails at once and the backoff grows: after four the next
    # wait is 4-8 s.
    before = len(widget.sockets)
    while len(widget.sockets) < before + 4:
        await widget.page.wait_for_event("websocket", timeout=20_000)
    proxy.restore()
    loop = asyncio.get_running_loop()

    back = loop.time()
    await context.set_offline(False)
    await widget.wait_state("up", timeout=5)
    assert widget.sockets[-1] - back < 1.0  # at once, not after the backoff
    await widget.wait_delivered([f"written offline {t}"])
    assert await wait_visitor_bodies(agent, conv, [f"written offline {t}"]) == [
        f"written offline {t}"
    ]
    assert not widget.errors, widget.errors
