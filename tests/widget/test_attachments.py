"""Attachments in the widget (issue #19), in Chromium against the real server: a visitor's
image reaches the agent, an agent's image and file reach the visitor (thumbnail, larger
view, link), hostile names stay text, refusals are explained, paste, drop, cancel and
"send as a text file" work; desktop and phone."""

from __future__ import annotations

import base64
import io
import json
import uuid
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import BrowserContext

from tests.support.clients import Clients, WsClient, cached_login
from tests.support.http import http_client
from tests.support.server import ServerProcess
from tests.widget.helpers import PHONE, WidgetPage, accept, artifact

HOSTILE = '<img src=x onerror=alert(1)>"&.pdf'
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@pytest.fixture(scope="module", params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The widget is what is tested here; storage of attachments is tested on both
    backends in tests/attachments/."""
    name: str = request.param
    return name


def png(width: int = 320, height: int = 200, color: tuple[int, int, int] = (30, 90, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


async def started(
    server: ServerProcess, widget: WidgetPage, clients: Clients
) -> tuple[WsClient, str]:
    """The widget open with a conversation an agent has accepted."""
    agent = await clients.agent(server)
    await widget.goto(server.url + "/")
    await widget.open()
    first = f"I have a photo {uuid.uuid4().hex[:6]}"
    await widget.send(first)
    conv = await widget.conversation()
    await accept(agent, conv)
    await widget.wait_delivered([first])
    return agent, conv


async def agent_upload(server: ServerProcess, conv: str, name: str, data: bytes) -> dict[str, Any]:
    assert server.demo is not None
    login = await cached_login(server, server.demo.agents[0])
    async with http_client(base_url=server.url) as http:
        resp = await http.post(
            "/api/v1/attachments",
            headers={"Authorization": f"Bearer {login['token']}"},
            data={"conv": conv},
            files={"file": (name, data)},
        )
    assert resp.status_code == 201, resp.text
    answer: dict[str, Any] = resp.json()
    return answer


async def sent_after(widget: WidgetPage, agent: WsClient, conv: str) -> None:
    """A text sent now has reached the agent: whatever the widget sent before has too."""
    marker = f"and then {uuid.uuid4().hex[:6]}"
    await widget.send(marker)
    await agent.wait_state(
        lambda: any(m["body"] == marker for m in agent.messages(conv)), 10, marker
    )


def attachment_messages(agent: WsClient, conv: str) -> list[dict[str, Any]]:
    return [m for m in agent.messages(conv) if m.get("attachments")]


async def test_visitor_image_reaches_the_agent_and_opens_large(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    agent, conv = await started(widget_server, widget, clients)
    await widget.page.locator("input[type=file]").set_input_files(
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": png()}]
    )
    thumb = widget.page.locator(".msg.own:not(.pending) .thumb img")
    await thumb.wait_for()
    await widget.page.wait_for_function(
        "() => { const i = document.querySelector('[data-steadydesk]').shadowRoot"
        ".querySelector('.msg.own:not(.pending) .thumb img'); return i && i.naturalWidth === 320; }"
    )
    await agent.wait_state(lambda: bool(attachment_messages(agent, conv)), 10, "image")
    sent = attachment_messages(agent, conv)[0]
    assert sent["sender"]["type"] == "visitor" and sent["body"] == ""
    (att,) = sent["attachments"]
    assert (att["name"], att["type"]) == ("photo.png", "image/png")
    async with http_client(base_url=widget_server.url) as http:
        got = await http.get(att["url"])
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(got.content)).size == (320, 200)

    # The larger view: opened from the keyboard, closed by escape, focus comes back.
    await widget.page.locator(".msg.own .thumb").focus()
    await widget.page.keyboard.press("Enter")
    viewer = widget.page.locator(".viewer")
    await viewer.wait_for(state="visible")
    assert await viewer.get_attribute("aria-modal") == "true"
    await widget.page.wait_for_function(
        "() => document.querySelector('[data-steadydesk]').shadowRoot"
        ".querySelector('.viewer img').naturalWidth === 320"
    )
    await widget.page.screenshot(path=str(artifact("attachment-viewer-desktop.png")))
    await widget.page.keyboard.press("Escape")
    await viewer.wait_for(state="hidden")
    assert await widget.page.locator(".panel").is_visible()  # escape closed only the view
    assert await widget.shadow_eval("return root.activeElement.className") == "att thumb"
    await widget.page.screenshot(path=str(artifact("attachment-log-desktop.png")))


async def test_agent_files_reach_the_visitor_as_thumbnail_and_link(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    agent, conv = await started(widget_server, widget, clients)
    image = await agent_upload(widget_server, conv, "label.png", png(200, 300, (20, 160, 60)))
    doc = await agent_upload(widget_server, conv, HOSTILE, MINIMAL_PDF)
    await agent.send_and_ack("Here you go", conv, attachments=[image["id"], doc["id"]])
    link = widget.page.locator(".msg.their a.att")
    await link.wait_for()
    assert await link.text_content() == f"{doc['name']} · {doc['size']} B"
    assert doc["name"].startswith("<img")  # the name as given, shown as text
    assert await widget.page.locator(".msg.their .bubble img[src=x]").count() == 0
    assert await link.get_attribute("download") == doc["name"]
    href = await link.get_attribute("href") or ""
    assert href.startswith(widget_server.url + "/api/v1/attachments/")
    thumb = widget.page.locator(".msg.their .thumb img")
    await thumb.wait_for()
    assert await thumb.get_attribute("alt") == "label.png"
    async with http_client() as http:
        got = await http.get(href)
    assert got.status_code == 200 and got.content == MINIMAL_PDF
    assert got.headers["content-disposition"].startswith("attachment;")
    assert not widget.dialogs


async def test_refused_upload_is_explained_and_dismissed(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    agent, conv = await started(widget_server, widget, clients)
    await widget.page.locator("input[type=file]").set_input_files(
        files=[
            {
                "name": "page.png",
                "mimeType": "image/png",
                "buffer": b"<html><script>alert(1)</script></html>",
            }
        ]
    )
    failed = widget.page.locator(".msg.up.failed")
    await failed.wait_for()
    assert "not allowed" in (await failed.text_content() or "")
    assert await failed.locator("button", has_text="Retry").count() == 0
    await failed.locator("button", has_text="Dismiss").click()
    await failed.wait_for(state="detached")
    await sent_after(widget, agent, conv)
    assert not attachment_messages(agent, conv)


async def test_paste_drop_cancel_and_text_file(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    agent, conv = await started(widget_server, widget, clients)
    # A pasted screenshot and a dropped file go like chosen ones.
    encoded = json.dumps(base64.b64encode(png(40, 40)).decode())
    await widget.shadow_eval(
        f"""
        const bytes = Uint8Array.from(atob({encoded}), (c) => c.charCodeAt(0));
        const paste = new DataTransfer();
        paste.items.add(new File([bytes], 'pasted.png', {{ type: 'image/png' }}));
        const how = {{ bubbles: true, cancelable: true }};
        root.querySelector('textarea').dispatchEvent(
          new ClipboardEvent('paste', {{ ...how, clipboardData: paste }}));
        const drop = new DataTransfer();
        drop.items.add(new File([bytes], 'dropped.png', {{ type: 'image/png' }}));
        root.querySelector('.log').dispatchEvent(
          new DragEvent('drop', {{ ...how, dataTransfer: drop }}));
        """
    )
    await agent.wait_state(lambda: len(attachment_messages(agent, conv)) == 2, 10, "two files")
    names = sorted(m["attachments"][0]["name"] for m in attachment_messages(agent, conv))
    assert names == ["dropped.png", "pasted.png"]

    # An over-long text: refused as text, offered and sent as a text file.
    await widget.page.locator("textarea").fill("word " * 1200)
    offer = widget.page.locator(".asfile")
    await offer.wait_for()
    await offer.click()
    await offer.wait_for(state="hidden")
    assert await widget.page.locator("textarea").input_value() == ""
    await agent.wait_state(lambda: len(attachment_messages(agent, conv)) == 3, 10, "text file")
    text_file = attachment_messages(agent, conv)[-1]["attachments"][0]
    assert text_file["type"].startswith("text/plain") and text_file["size"] == 6000
    await widget.page.locator(".msg.own a.att", has_text="message.txt").wait_for()

    # A slow upload shows its progress and can be cancelled: nothing is sent.
    cdp = await widget.page.context.new_cdp_session(widget.page)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 50,
            "downloadThroughput": -1,
            "uploadThroughput": 20_000,
        },
    )
    big = bytes(range(256)) * 4000  # ~1 MB after a PDF header
    await widget.page.locator("input[type=file]").set_input_files(
        files=[{"name": "big.pdf", "mimeType": "application/pdf", "buffer": MINIMAL_PDF + big}]
    )
    uploading = widget.page.locator(".msg.up:not(.failed)")
    await uploading.locator("progress").wait_for()
    await widget.page.wait_for_function(
        "() => document.querySelector('[data-steadydesk]').shadowRoot"
        ".querySelector('.msg.up progress').value > 0"
    )
    await uploading.locator("button", has_text="Cancel").click()
    await uploading.wait_for(state="detached")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": -1,
        },
    )
    await sent_after(widget, agent, conv)
    assert len(attachment_messages(agent, conv)) == 3


async def test_phone_viewer_fills_the_screen_and_closes(
    widget_server: ServerProcess, browser: Any, clients: Clients, site_key: str
) -> None:
    context: BrowserContext = await browser.new_context(
        viewport=PHONE, locale="en-US", has_touch=True
    )
    try:
        widget = await WidgetPage.new(context, site_key)
        agent, conv = await started(widget_server, widget, clients)
        image = await agent_upload(widget_server, conv, "receipt.png", png(600, 900))
        await agent.send_and_ack("", conv, attachments=[image["id"]])
        thumb = widget.page.locator(".msg.their .thumb")
        await thumb.wait_for()
        await widget.page.screenshot(path=str(artifact("attachment-log-phone.png")))
        await thumb.tap()
        viewer = widget.page.locator(".viewer")
        await viewer.wait_for(state="visible")
        box = await viewer.bounding_box()
        assert (
            box is not None and box["width"] == PHONE["width"] and box["height"] == PHONE["height"]
        )
        await widget.page.screenshot(path=str(artifact("attachment-viewer-phone.png")))
        await widget.page.locator(".viewer .icon").tap()
        await viewer.wait_for(state="hidden")
        assert not widget.errors, widget.errors
    finally:
        await context.close()


async def test_failed_upload_is_retried_and_a_stale_url_renewed(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    agent, conv = await started(widget_server, widget, clients)
    # The network drops during the upload: "Upload failed." with Retry, which then sends it.
    await widget.page.context.set_offline(True)
    await widget.page.locator("input[type=file]").set_input_files(
        files=[{"name": "again.png", "mimeType": "image/png", "buffer": png(50, 50)}]
    )
    failed = widget.page.locator(".msg.up.failed")
    await failed.wait_for()
    assert "Upload failed." in (await failed.text_content() or "")
    await widget.page.context.set_offline(False)
    await failed.locator("button", has_text="Retry").click()
    await failed.wait_for(state="detached")
    await agent.wait_state(lambda: bool(attachment_messages(agent, conv)), 10, "the retried file")
    assert attachment_messages(agent, conv)[0]["attachments"][0]["name"] == "again.png"

    # A stored URL the server no longer honours (here: altered) is renewed on reload.
    await widget.page.locator(".msg.own:not(.pending) .thumb img").wait_for()
    key = f"steadydesk:{widget.site_key}:chat"
    await widget.page.evaluate(
        """(key) => {
          const s = JSON.parse(localStorage.getItem(key));
          for (const m of s.msgs) {
            for (const a of m.att || []) a.url = a.url.replace(/s=[0-9a-f]+/, 's=00');
          }
          localStorage.setItem(key, JSON.stringify(s));
        }""",
        key,
    )
    att_id = attachment_messages(agent, conv)[0]["attachments"][0]["id"]
    renewals: list[str] = []
    widget.page.on(
        "request",
        lambda r: renewals.append(r.url) if r.url.endswith(f"/attachments/{att_id}") else None,
    )
    await widget.reload()
    await widget.open()
    await widget.page.wait_for_function(
        "() => { const i = document.querySelector('[data-steadydesk]').shadowRoot"
        ".querySelector('.msg.own .thumb img'); return i && i.naturalWidth === 50; }"
    )
    assert len(renewals) == 1
