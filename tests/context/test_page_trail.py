"""The page trail: ``page`` frames from visitors, ``visitor.seen`` to the agents who can
see the visitor's open conversation, never to visitors; the context in ``conv.queued``
and ``conv.assigned``; visits counted per visit, not per page."""

from __future__ import annotations

from typing import Any

from tests.context.conftest import Rest
from tests.support.clients import Clients, WsClient, open_conversation, post_json
from tests.support.server import DemoTenant, ServerProcess

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def seen(conv: str | None, url: str) -> Any:
    return lambda f: (f["type"] == "event" and f.get("name") == "visitor.seen"
                      and f.get("conv") == conv and f["data"]["url"] == url)


async def page(client: WsClient, url: str, title: str = "", **extra: Any) -> None:
    await client.send_json({"type": "page", "url": url, "title": title, **extra})


async def test_queued_conversation_agents_see_the_trail_and_the_visitor_does_not(
    server: ServerProcess, demo: DemoTenant, clients: Clients, agent: Rest,
) -> None:
    visitor = await clients.visitor(server, name="Trail One")
    watcher = await clients.agent(server, demo.agents[0])
    ack = await visitor.send_and_ack("hi, a question about pricing")
    conv = ack["conv"]
    await watcher.recv_event("conv.queued", conv)
    await page(visitor, "https://shop.example/pricing", "Pricing")
    event = await watcher.recv_until(seen(conv, "https://shop.example/pricing"))
    assert event["data"]["title"] == "Pricing"
    assert event["data"]["visitor"] == visitor.session["visitor_id"]
    assert event["data"]["at"].endswith("Z")
    await page(visitor, "https://shop.example/checkout?step=2", "Checkout")
    await watcher.recv_until(seen(conv, "https://shop.example/checkout?step=2"))
    await visitor.expect_no_frame(lambda f: f.get("name") == "visitor.seen", within=0.5)

    resp = await agent.get(f"/visitors/{visitor.session['visitor_id']}")
    assert resp.status_code == 200, resp.text
    context = resp.json()
    assert [p["url"] for p in context["pages"]] == [
        "https://shop.example/pricing", "https://shop.example/checkout?step=2"]
    assert context["page_url"] == "https://shop.example/checkout?step=2"
    await watcher.send_json({"type": "close", "conv": conv})
    await watcher.recv_event("conv.closed", conv)


async def test_active_conversation_only_its_followers_see_the_trail(
    server: ServerProcess, demo: DemoTenant, clients: Clients,
) -> None:
    visitor = await clients.visitor(server, name="Trail Two")
    assignee = await clients.agent(server, demo.agents[0])
    conv = await open_conversation(visitor, assignee)
    await page(visitor, "https://shop.example/help", "Help")
    await assignee.recv_until(seen(conv, "https://shop.example/help"))
    await visitor.expect_no_frame(lambda f: f.get("name") == "visitor.seen", within=0.5)
    await assignee.send_json({"type": "close", "conv": conv})
    await assignee.recv_event("conv.closed", conv)


async def test_context_rides_on_queued_and_assigned_for_agents_only(
    server: ServerProcess, demo: DemoTenant, clients: Clients,
) -> None:
    resp = await post_json(server, "/api/v1/visitor/session", {
        "site_key": demo.site_key, "name": "Ada", "email": "ada@example.com",
        "page_url": "https://shop.example/", "referrer": "https://search.example/?q=shop",
        "language": "fr-FR",
    }, headers={"User-Agent": CHROME_UA})
    assert resp.status_code == 200, resp.text
    session = resp.json()
    visitor = await clients.visitor(server, session=session)
    watcher = await clients.agent(server, demo.agents[0])
    ack = await visitor.send_and_ack("hello")
    conv = ack["conv"]
    queued = await watcher.recv_event("conv.queued", conv)
    card = queued["data"]["visitor"]
    # The fields agents already had stay as they were...
    assert card["id"] == session["visitor_id"]
    assert card["name"] == "Ada" and card["email"] == "ada@example.com"
    assert card["language"] == "fr-FR"
    assert card["referrer"] == "https://search.example/?q=shop"
    assert card["visit_count"] == 1
    # ...and the context joins them.
    assert card["browser"] == "Chrome 120"
    assert card["os"] == "Windows 10"
    assert card["ip"] == "127.0.0.1"
    assert card["previous_conversations"] == []
    await watcher.send_json({"type": "accept", "conv": conv})
    assigned = await watcher.recv_event("conv.assigned", conv)
    assert assigned["data"]["visitor"]["id"] == session["visitor_id"]
    at_visitor = await visitor.recv_event("conv.assigned", conv)
    assert "visitor" not in at_visitor["data"], "a visitor must not get the agents' view of it"
    await watcher.send_json({"type": "close", "conv": conv})
    await watcher.recv_event("conv.closed", conv)

    # A second conversation lists the first as previous.
    again = await visitor.send_and_ack("one more thing")
    second = await watcher.recv_event("conv.queued", again["conv"])
    previous = second["data"]["visitor"]["previous_conversations"]
    assert [(p["id"], p["status"]) for p in previous] == [(conv, "closed")]
    await watcher.send_json({"type": "close", "conv": again["conv"]})
    await watcher.recv_event("conv.closed", again["conv"])


async def test_a_page_without_an_open_conversation_is_stored_but_told_to_nobody(
    server: ServerProcess, demo: DemoTenant, clients: Clients, agent: Rest,
) -> None:
    visitor = await clients.visitor(server)
    watcher = await clients.agent(server, demo.agents[0])
    await page(visitor, "http://shop.example/quiet", "Quiet")
    await watcher.expect_no_frame(lambda f: f.get("name") == "visitor.seen"
                                  and f["data"].get("url") == "http://shop.example/quiet",
                                  within=0.7)
    resp = await agent.get(f"/visitors/{visitor.session['visitor_id']}")
    assert [p["url"] for p in resp.json()["pages"]] == ["http://shop.example/quiet"]


async def test_page_frames_are_validated(server: ServerProcess, clients: Clients,
                                         agent: Rest) -> None:
    visitor = await clients.visitor(server)
    for bad in (
        {"url": "javascript:alert(1)"},
        {"url": "data:text/html,hi"},
        {"url": "ftp://shop.example/file"},
        {"url": "https://shop.example/" + "a" * 1000},
        {"url": "/relative"},
        {"url": 42},
        {},
        {"url": "https://shop.example/", "title": 7},
        {"url": "https://shop.example/", "referrer": "javascript:void(0)"},
    ):
        await visitor.send_json({"type": "page", **bad})
        err = await visitor.recv_error("bad_frame")
        assert err["type"] == "error"
    # A very long title is cut, not refused.
    await page(visitor, "https://shop.example/long", "T" * 1000)
    await visitor.ping_pong()
    resp = await agent.get(f"/visitors/{visitor.session['visitor_id']}")
    pages = resp.json()["pages"]
    assert [p["url"] for p in pages] == ["https://shop.example/long"]
    assert len(pages[0]["title"]) == 300


async def test_a_visitor_reports_only_its_own_pages(server: ServerProcess, clients: Clients,
                                                    agent: Rest) -> None:
    mallory = await clients.visitor(server)
    victim = await clients.visitor(server)
    victim_id = victim.session["visitor_id"]
    await page(mallory, "https://evil.example/", "Planted", visitor=victim_id)
    await mallory.recv_error("forbidden")
    resp = await agent.get(f"/visitors/{victim_id}")
    assert resp.json()["pages"] == []


async def test_agents_cannot_send_page(server: ServerProcess, demo: DemoTenant,
                                       clients: Clients) -> None:
    watcher = await clients.agent(server, demo.agents[1])
    await page(watcher, "https://shop.example/")
    err = await watcher.recv_error("forbidden")
    assert "visitors only" in err["message"]


async def test_page_frames_are_rate_limited_per_connection(
    server: ServerProcess, clients: Clients, agent: Rest,
) -> None:
    visitor = await clients.visitor(server)
    for i in range(31):
        await page(visitor, f"https://shop.example/p{i}")
    await visitor.recv_error("rate_limited", timeout=10)
    resp = await agent.get(f"/visitors/{visitor.session['visitor_id']}")
    assert len(resp.json()["pages"]) == 30


async def test_visits_count_returns_not_page_loads(server: ServerProcess, demo: DemoTenant,
                                                   agent: Rest) -> None:
    body = {"site_key": demo.site_key, "page_url": "https://shop.example/a"}
    first = (await post_json(server, "/api/v1/visitor/session", body)).json()
    for url in ("https://shop.example/b", "https://shop.example/c"):
        resp = await post_json(server, "/api/v1/visitor/session",
                               {**body, "token": first["token"], "page_url": url})
        assert resp.json()["visitor_id"] == first["visitor_id"]
    context = (await agent.get(f"/visitors/{first['visitor_id']}")).json()
    assert context["visit_count"] == 1
    assert context["page_url"] == "https://shop.example/c"
