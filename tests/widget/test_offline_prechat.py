"""The widget's after-hours notice, offline form and pre-chat form, in Chromium against a
real server whose site is configured through the admin API."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from playwright.async_api import Browser

from server.ids import new_id
from server.storage.guard import TenantScope
from server.storage.models import Department
from tests.routing.support import with_db
from tests.support.clients import Clients, cached_login
from tests.support.http import http_client
from tests.support.server import ServerProcess
from tests.widget.helpers import DESKTOP, SHADOW, WidgetPage, accept, artifact

CLOSED = {"tz": "Asia/Shanghai", "days": {}}
AFTER_HOURS = "We are closed for the night; leave a message."


async def admin_call(server: ServerProcess, method: str, path: str, body: Any = None) -> Any:
    assert server.demo is not None
    token = (await cached_login(server, server.demo.admin))["token"]
    async with http_client(base_url=server.url, timeout=10) as http:
        resp = await http.request(
            method, "/api/v1" + path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert resp.status_code == 200, resp.text
    return resp.json()


async def configure(server: ServerProcess, *, hours: Any, prechat: dict[str, Any]) -> None:
    assert server.demo is not None
    site = server.demo.site_key
    await admin_call(
        server, "PUT", f"/sites/{site}/hours", {"hours": hours, "after_hours_message": AFTER_HOURS}
    )
    await admin_call(server, "PUT", f"/sites/{site}/prechat", prechat)


async def conversations(server: ServerProcess, query: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (await admin_call(server, "GET", "/conversations" + query))[
        "conversations"
    ]
    return rows


async def test_after_hours_notice_and_offline_form(
    widget_server: ServerProcess, widget: WidgetPage
) -> None:
    await configure(widget_server, hours=CLOSED, prechat={"enabled": False})
    tag = uuid.uuid4().hex[:8]
    await widget.goto(widget_server.url + "/")
    await widget.open()
    notice = widget.page.locator(".avail")
    await notice.wait_for(state="visible")
    assert AFTER_HOURS in (await notice.text_content() or "")
    await widget.page.locator(".details input[name=name]").fill(f"Ada {tag}")
    await widget.page.locator(".details input[name=email]").fill("ada@example.com")
    await widget.page.screenshot(path=artifact("offline-form-desktop.png"))
    await widget.send(f"Please call me back {tag}")
    await widget.wait_delivered([f"Please call me back {tag}"])
    await widget.wait_text(AFTER_HOURS)  # the after-hours system message, in the stream
    conv = await widget.conversation()
    await widget.page.locator(".details").wait_for(state="hidden")
    for _ in range(50):
        rows = [r for r in await conversations(widget_server, "?offline=1") if r["id"] == conv]
        if rows and rows[0]["visitor"]["email"] == "ada@example.com":
            break
        await asyncio.sleep(0.1)
    assert rows and rows[0]["offline"] is True and rows[0]["status"] == "queued"
    assert rows[0]["visitor"]["name"] == f"Ada {tag}"


async def test_offline_message_survives_a_reload_before_it_is_sent(
    widget_server: ServerProcess, widget: WidgetPage
) -> None:
    await configure(widget_server, hours=CLOSED, prechat={"enabled": False})
    tag = uuid.uuid4().hex[:8]
    dropping = True

    def forward(server, message):  # type: ignore[no-untyped-def]
        if not (dropping and '"type":"send"' in str(message)):
            server.send(message)

    async def drop_sends(route):  # type: ignore[no-untyped-def]
        server = route.connect_to_server()
        route.on_message(lambda m: forward(server, m))
        server.on_message(lambda m: route.send(m))

    await widget.page.route_web_socket("**/ws/visitor*", drop_sends)
    await widget.goto(widget_server.url + "/")
    await widget.open()
    await widget.page.locator(".avail").wait_for(state="visible")
    await widget.page.locator(".details input[name=email]").fill("cy@example.com")
    await widget.send(f"Offline and unsent {tag}")
    await widget.wait_log("items.filter((i) => / pending/.test(i.cls)).length === 1")
    outbox = await widget.storage("outbox")
    assert [o["body"] for o in outbox] == [f"Offline and unsent {tag}"]
    assert (await widget.storage("details"))["email"] == "cy@example.com"
    dropping = False
    await widget.reload()
    await widget.open()
    await widget.wait_delivered([f"Offline and unsent {tag}"])
    assert await widget.storage("outbox") == []


async def test_prechat_form_before_the_first_message(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    assert widget_server.demo is not None
    tenant = widget_server.demo.tenant
    dep = new_id()
    with_db(
        widget_server,
        lambda: TenantScope(tenant).create(Department, id=dep, name=f"Returns {dep[-4:]}"),
    )
    await configure(
        widget_server,
        hours=None,
        prechat={"enabled": True, "fields": ["name", "email", "department"], "required": ["email"]},
    )
    agent = await clients.agent(widget_server)
    await agent.send_json({"type": "status", "state": "online"})
    await agent.recv_event("agent.status")
    await widget.goto(widget_server.url + "/")
    await widget.open()
    page = widget.page
    await page.locator(".details .go").wait_for(state="visible")
    assert await page.locator("form").is_hidden()  # no message box before the form
    await page.locator(".details input[name=name]").fill("Bo")
    await page.locator(".details .go").click()
    error = page.locator(".details .err")
    await error.wait_for(state="visible")
    assert "E-mail" in (await error.text_content() or "")
    await page.locator(".details input[name=email]").fill("bo@example.com")
    await page.locator(".details select").select_option(dep)
    await page.screenshot(path=artifact("prechat-desktop.png"))
    await page.locator(".details .go").click()
    await page.locator("textarea").wait_for(state="visible")
    assert await page.locator(".details").is_hidden()
    await widget.send("Where is my refund?")
    conv = await widget.conversation()
    queued = await accept(agent, conv)
    assert queued["data"]["department"] == dep
    assert queued["data"]["visitor"]["email"] == "bo@example.com"
    assert queued["data"]["visitor"]["name"] == "Bo"
    await widget.wait_delivered(["Where is my refund?"])


async def test_notice_in_traditional_chinese(
    widget_server: ServerProcess, browser: Browser
) -> None:
    await configure(widget_server, hours=CLOSED, prechat={"enabled": False})
    await admin_call(
        widget_server,
        "PUT",
        f"/sites/{widget_server.demo.site_key}/hours",  # type: ignore[union-attr]
        {"hours": CLOSED},
    )
    context = await browser.new_context(viewport=DESKTOP, locale="zh-TW")
    try:
        assert widget_server.demo is not None
        page = await WidgetPage.new(context, widget_server.demo.site_key)
        await page.goto(widget_server.url + "/")
        await page.open()
        await page.page.locator(".avail").wait_for(state="visible")
        text = await page.page.evaluate(f"() => {SHADOW}.querySelector('.avail').textContent")
        assert text.startswith("我們現在不在線上")
        label = await page.page.evaluate(
            f"() => {SHADOW}.querySelector('[data-field=email] span').textContent"
        )
        assert label.startswith("電子郵件")
        assert not page.errors
    finally:
        await context.close()


async def test_server_refusal_without_prechat_fields_shows_the_form_and_keeps_the_message(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    """The page loaded before the site required the form (issue #21, item 3): the server
    refuses the first message (``prechat_required``); the widget shows the form with the
    missing fields, holds the message, and sends it (same cid) once the form is sent."""
    await configure(widget_server, hours=None, prechat={"enabled": False})
    agent = await clients.agent(widget_server)
    await agent.send_json({"type": "status", "state": "online"})
    await agent.recv_event("agent.status")
    tag = uuid.uuid4().hex[:8]
    await widget.goto(widget_server.url + "/")
    await widget.open()
    page = widget.page
    await page.locator("textarea").wait_for(state="visible")  # no form: the site had none
    for _ in range(100):
        if any(f.get("type") == "welcome" for f in widget.frames_in):
            break
        await asyncio.sleep(0.05)
    await configure(
        widget_server,
        hours=None,
        prechat={"enabled": True, "fields": ["name", "email"], "required": ["name", "email"]},
    )

    body = f"Is my parcel lost? {tag}"
    await widget.send(body)
    await page.locator(".details .go").wait_for(state="visible")
    error = page.locator(".details .err")
    await error.wait_for(state="visible")
    assert "Name" in (await error.text_content() or "")
    assert await page.locator("form").is_hidden()
    refused = [f for f in widget.frames_in if f.get("code") == "prechat_required"]
    assert refused and refused[0]["fields"] == ["name", "email"]
    assert [o["body"] for o in await widget.storage("outbox")] == [body]  # held, not lost
    await page.screenshot(path=artifact("prechat-refused-desktop.png"))

    await page.locator(".details input[name=name]").fill(f"Cy {tag}")
    await page.locator(".details .go").click()
    await error.wait_for(state="visible")  # the e-mail is required too
    assert "E-mail" in (await error.text_content() or "")
    await page.locator(".details input[name=email]").fill("cy@example.com")
    await page.locator(".details .go").click()
    await widget.wait_delivered([body])
    assert await widget.storage("outbox") == []
    sends = [f for f in widget.frames_out if f.get("type") == "send" and f.get("body") == body]
    assert len({f["cid"] for f in sends}) == 1 and len(sends) >= 2  # the same cid, again
    conv = await widget.conversation()
    queued = await agent.recv_event("conv.queued", conv, 10)
    assert queued["data"]["visitor"]["email"] == "cy@example.com"
    assert queued["data"]["visitor"]["name"] == f"Cy {tag}"
    assert not widget.errors
