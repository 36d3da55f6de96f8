"""The widget's page trail: a `page` frame on load and on single-page-app navigation;
the agent sees each view as `visitor.seen`, and the visitor's REST context lists them."""

from __future__ import annotations

import uuid

from tests.support.clients import Clients, Frame
from tests.support.http import http_client
from tests.support.server import ServerProcess
from tests.widget.helpers import WidgetPage, accept


def seen(conv: str, url: str) -> object:
    def match(f: Frame) -> bool:
        return (f["type"] == "event" and f.get("name") == "visitor.seen"
                and f.get("conv") == conv and f["data"]["url"] == url)
    return match


async def test_the_agent_follows_the_visitor_from_page_to_page(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    t = uuid.uuid4().hex[:8]
    base = widget_server.url
    agent = await clients.agent(widget_server)
    await widget.goto(f"{base}/?landing={t}")
    await widget.open()
    await widget.send(f"Where is my parcel {t}?")
    conv = await widget.conversation()
    queued = await accept(agent, conv)
    visitor_id = queued["data"]["visitor"]["id"]

    # A single-page app navigates: pushState, then the app sets the new title.
    await widget.page.evaluate(
        "() => { history.pushState({}, '', '/pricing?t=" + t + "'); document.title = 'Pricing'; }"
    )
    first = await agent.recv_until(seen(conv, f"{base}/pricing?t={t}"), 10, "visitor.seen 1")
    assert first["data"]["title"] == "Pricing"
    assert first["data"]["referrer"] == f"{base}/?landing={t}"

    # A full page load: the widget comes back, reconnects and reports the new page.
    await widget.goto(f"{base}/?second={t}")
    await agent.recv_until(seen(conv, f"{base}/?second={t}"), 15, "visitor.seen 2")

    # Back and forward within the app (popstate).
    await widget.page.evaluate("() => history.pushState({}, '', '/docs')")
    await agent.recv_until(seen(conv, f"{base}/docs"), 10, "visitor.seen docs")
    await widget.page.evaluate("() => history.back()")
    await agent.recv_until(
        lambda f: f.get("name") == "visitor.seen" and f["data"]["url"] == f"{base}/?second={t}"
        and f["data"]["referrer"] == f"{base}/docs", 10, "visitor.seen after popstate")

    # The visitor's own connection never hears of it.
    assert not [f for f in widget.frames_in if f.get("name") == "visitor.seen"]
    async with http_client(base_url=base, timeout=10) as http:
        resp = await http.get(f"/api/v1/visitors/{visitor_id}",
                              headers={"Authorization": f"Bearer {agent.login['token']}"})
    assert resp.status_code == 200, resp.text
    urls = [p["url"] for p in resp.json()["pages"]]
    assert urls[-5:] == [f"{base}/?landing={t}", f"{base}/pricing?t={t}", f"{base}/?second={t}",
                         f"{base}/docs", f"{base}/?second={t}"]
    sent = [f for f in widget.frames_out if f.get("type") == "page"]
    assert all(f["url"].startswith(base) for f in sent)
