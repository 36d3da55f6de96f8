"""The widget on a page: launcher, panel, keyboard, screen readers, languages, hostile
host pages, phone and desktop layouts (with screenshots), and its first-paint cost."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from tests.support.clients import Clients
from tests.support.server import ServerProcess
from tests.widget.helpers import DESKTOP, PHONE, WidgetPage, accept, artifact

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Host page</title>{head}</head>
<body><h1>A host page</h1><p>Some text <a href="#">and a link</a>.</p>{body}
<script src="/widget.js" data-site="{site_key}" {attrs} async></script></body></html>"""

# CSS that restyles everything it can reach, the widget's host element included.
HOSTILE_CSS = """<style>
* { all: unset !important; font-size: 3px !important; display: inline !important;
    line-height: 0 !important; color: #0f0 !important; }
:root { font-size: 2px !important; background: #000 !important; zoom: 1; }
div, section, button, textarea, ol, li, span, form { visibility: hidden !important;
    opacity: 0 !important; position: static !important; width: 1px !important; }
[data-steadydesk] { display: none !important; transform: scale(0) !important;
    filter: blur(20px) !important; pointer-events: none !important; }
body * { pointer-events: none !important; cursor: none !important; }
*::before, *::after { content: "HOSTILE" !important; }
</style>"""


async def host_page(
    page: Page,
    server: ServerProcess,
    site_key: str,
    *,
    name: str = "host",
    head: str = "",
    body: str = "",
    attrs: str = "",
) -> str:
    """Serve a custom page at the server's origin (so the demo site allows it)."""
    url = f"{server.url}/__widget_test/{name}.html"
    html = HOST_PAGE.format(head=head, body=body, site_key=site_key, attrs=attrs)

    async def fulfill(route):  # type: ignore[no-untyped-def]
        await route.fulfill(body=html, content_type="text/html; charset=utf-8")

    await page.route(url, fulfill)
    return url


async def test_keyboard_and_screen_reader(widget_server: ServerProcess, widget: WidgetPage) -> None:
    page = widget.page
    await widget.goto(widget_server.url + "/")
    launcher = page.get_by_role("button", name="Open chat")
    assert await launcher.get_attribute("aria-expanded") == "false"
    assert await page.get_by_role("dialog").count() == 0  # hidden until opened

    # Reachable with Tab from the page, opened with Enter, focus into the message box.
    await page.locator("body").focus()
    for _ in range(20):
        await page.keyboard.press("Tab")
        if await widget.shadow_eval(
            "return root.activeElement && root.activeElement.className === 'launcher';"
        ):
            break
    else:
        pytest.fail("the launcher is not reachable with Tab")
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Chat with us")
    await dialog.wait_for()
    assert await page.locator(".launcher").get_attribute("aria-expanded") == "true"
    assert await widget.shadow_eval("return root.activeElement.id;") == "sd-input"
    assert await page.get_by_label("Message", exact=True).count() == 1
    assert await page.get_by_role("list", name="Messages").count() == 1
    assert await widget.shadow_eval(
        "return root.querySelector('[aria-live=polite]').closest('.panel') === null;"
    )

    # Esc closes and gives focus back to the launcher.
    await page.keyboard.press("Escape")
    await dialog.wait_for(state="hidden")
    assert await widget.shadow_eval("return root.activeElement.className;") == "launcher"
    assert (
        await page.get_by_role("button", name="Open chat").get_attribute("aria-expanded") == "false"
    )

    # Enter sends, Shift+Enter makes a new line.
    await page.keyboard.press("Enter")
    await dialog.wait_for()
    await page.keyboard.type("line one")
    await page.keyboard.press("Shift+Enter")
    await page.keyboard.type("line two")
    await page.keyboard.press("Enter")
    await widget.wait_delivered(["line one\nline two"])


@pytest.mark.parametrize(
    ("lang_attr", "locale", "label", "placeholder"),
    [
        ("", "en-US", "Open chat", "Type a message…"),
        ('data-lang="zh-CN"', "en-US", "打开聊天", "输入消息…"),
        ('data-lang="zh-TW"', "en-US", "開啟聊天", "輸入訊息…"),
        ("", "zh-TW", "開啟聊天", "輸入訊息…"),
        ("", "zh-HK", "開啟聊天", "輸入訊息…"),
        ("", "zh-CN", "打开聊天", "输入消息…"),
        ('data-lang="en"', "zh-CN", "Open chat", "Type a message…"),
    ],
)
async def test_language_from_the_browser_or_data_lang(
    widget_server: ServerProcess,
    site_key: str,
    browser: Browser,
    lang_attr: str,
    locale: str,
    label: str,
    placeholder: str,
) -> None:
    ctx = await browser.new_context(viewport=DESKTOP, locale=locale)
    try:
        widget = await WidgetPage.new(ctx, site_key)
        await widget.goto(await host_page(widget.page, widget_server, site_key, attrs=lang_attr))
        await widget.page.get_by_role("button", name=label).click()
        assert await widget.page.locator("textarea").get_attribute("placeholder") == placeholder
        assert not widget.errors
    finally:
        await ctx.close()


async def test_a_hostile_host_page_cannot_break_the_widget(
    widget_server: ServerProcess, widget: WidgetPage
) -> None:
    page = widget.page
    await widget.goto(
        await host_page(page, widget_server, widget.site_key, name="hostile", head=HOSTILE_CSS)
    )
    box = await page.locator(".launcher").bounding_box()
    assert box and box["width"] == 60 and box["height"] == 60, box
    assert box["x"] + box["width"] == DESKTOP["width"] - 20, box
    await page.locator(".launcher").click()
    panel = await page.locator(".panel").bounding_box()
    assert panel and panel["width"] == 380 and panel["height"] >= 500, panel
    assert await page.locator("textarea").evaluate("(e) => getComputedStyle(e).fontSize") == "15px"
    assert await page.locator("h2").evaluate("(e) => getComputedStyle(e).visibility") == "visible"
    await widget.send("Typed on a hostile page")
    await widget.wait_delivered(["Typed on a hostile page"])
    await page.mouse.move(0, 0)
    await page.screenshot(path=artifact("hostile-desktop.png"))


async def chat_for_screenshots(widget: WidgetPage, server: ServerProcess, clients: Clients) -> None:
    agent = await clients.agent(server)
    await widget.open()
    await widget.send("Hi! Does the Aurora grinder work for espresso?")
    conv = await widget.conversation()
    await accept(agent, conv)
    await agent.send_and_ack(
        "Hello! Yes — set it between clicks 8 and 12 for espresso. The guide is at "
        "https://example.com/aurora/espresso",
        conv,
    )
    await widget.wait_text("The guide is at")
    await widget.send("Great, thank you!")
    await widget.wait_delivered(["Great, thank you!"])
    await agent.send_json({"type": "read", "conv": conv, "seq": 3})
    await agent.send_json({"type": "typing", "conv": conv, "on": True})
    await widget.wait_log("items.some((i) => i.foot.includes('Seen'))")
    await widget.page.locator(".typing", has_text="is typing").wait_for()


async def test_desktop_layout_and_screenshots(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    page = widget.page
    await widget.goto(widget_server.url + "/")
    await page.mouse.move(0, 0)
    await page.screenshot(path=artifact("desktop-closed.png"))
    await chat_for_screenshots(widget, widget_server, clients)
    await page.locator(".panel").evaluate(
        "(e) => Promise.all(e.getAnimations().map((a) => a.finished))"
    )
    panel = await page.locator(".panel").bounding_box()
    assert panel == {"x": 1280 - 20 - 380, "y": 800 - 92 - 620, "width": 380, "height": 620}
    await page.mouse.move(0, 0)
    await page.screenshot(path=artifact("desktop-open.png"))


async def test_phone_layout_is_full_screen(
    widget_server: ServerProcess, browser: Browser, site_key: str, clients: Clients
) -> None:
    ctx = await browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-US"
    )
    try:
        widget = await WidgetPage.new(ctx, site_key)
        page = widget.page
        await widget.goto(widget_server.url + "/")
        await page.screenshot(path=artifact("phone-closed.png"))
        await page.locator(".launcher").tap()
        await page.locator(".panel").wait_for()
        await page.locator(".panel").evaluate(
            "(e) => Promise.all(e.getAnimations().map((a) => a.finished))"
        )
        # On phones the panel does not pop the keyboard up: focus lands on Close.
        assert await widget.shadow_eval("return root.activeElement.className;") == "icon"
        assert await page.locator(".panel").bounding_box() == {
            "x": 0,
            "y": 0,
            "width": PHONE["width"],
            "height": PHONE["height"],
        }
        assert await page.locator(".launcher").is_hidden()
        await chat_for_screenshots(widget, widget_server, clients)
        await page.screenshot(path=artifact("phone-open.png"))
        await page.get_by_role("button", name="Close chat").tap()
        await page.locator(".launcher").wait_for()
        assert not widget.errors
    finally:
        await ctx.close()


async def test_identity_verification_names_the_visitor(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    from tests.support.clients import user_hash

    assert widget_server.demo is not None
    user = f"user-{uuid.uuid4().hex[:8]}"
    identity = {
        "user_id": user,
        "user_hash": user_hash(widget_server.demo.site_secret, user),
        "name": "Ada Lovelace",
        "email": "ada@example.com",
    }
    head = f"<script>window.SteadyDesk = {json.dumps(identity)};</script>"
    agent = await clients.agent(widget_server)
    await widget.goto(
        await host_page(widget.page, widget_server, widget.site_key, name="signed-in", head=head)
    )
    await widget.open()
    await widget.send("Signed-in question")
    conv = await widget.conversation()
    queued = await accept(agent, conv)
    assert queued["data"]["visitor"]["name"] == "Ada Lovelace"
    assert queued["data"]["visitor"]["email"] == "ada@example.com"
    assert (await widget.storage("token"))["uid"] == user

    # Another signed-in user on the same browser never sees the first one's chat.
    other = f"user-{uuid.uuid4().hex[:8]}"
    identity = {"user_id": other, "user_hash": user_hash(widget_server.demo.site_secret, other)}
    head = f"<script>window.SteadyDesk = {json.dumps(identity)};</script>"
    await widget.goto(
        await host_page(widget.page, widget_server, widget.site_key, name="other-user", head=head)
    )
    await widget.wait_state("up")
    await widget.open()
    await widget.wait_log("items.length === 1 && items[0].cls === 'hello'")
    assert (await widget.storage("chat"))["msgs"] == []


async def test_a_forged_identity_falls_back_to_an_anonymous_chat(
    widget_server: ServerProcess, widget: WidgetPage
) -> None:
    head = (
        '<script>window.SteadyDesk = {user_id: "admin", user_hash: "00", name: "Mallory"};</script>'
    )
    warnings: list[str] = []
    widget.page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    await widget.goto(
        await host_page(widget.page, widget_server, widget.site_key, name="forged", head=head)
    )
    await widget.open()
    await widget.send("Hello anyway")
    await widget.wait_delivered(["Hello anyway"])
    assert (await widget.storage("token"))["uid"] == ""
    assert any("identity verification failed (bad_user_hash)" in w for w in warnings)
    # The session refused the identity (401): that failed request is expected here.
    widget.errors[:] = [e for e in widget.errors if "401" not in e]


@pytest.mark.serial
async def test_first_paint_cost(
    widget_server: ServerProcess, context: BrowserContext, site_key: str
) -> None:
    """From the script's arrival to the launcher on screen; the figures go to
    test-artifacts/widget/first-paint.json (see docs/widget.md)."""
    runs = []
    for _ in range(3):
        widget = await WidgetPage.new(context, site_key)
        await widget.goto(widget_server.url + "/")
        await widget.page.wait_for_function(
            "() => performance.getEntriesByName('steadydesk:launcher').length === 1"
        )
        runs.append(
            await widget.page.evaluate("""() => {
          const res = performance.getEntriesByType('resource')
            .find((e) => e.name.endsWith('/widget.js'));
          const mark = performance.getEntriesByName('steadydesk:launcher')[0];
          return {
            script_fetch_ms: res.responseEnd - res.startTime,
            transfer_bytes: res.transferSize, encoded_bytes: res.encodedBodySize,
            decoded_bytes: res.decodedBodySize,
            execute_to_launcher_ms: mark.detail.sinceScript,
            response_end_to_launcher_ms: mark.startTime - res.responseEnd,
            launcher_at_ms: mark.startTime,
          };
        }""")
        )
        await widget.page.close()
    artifact("first-paint.json").write_text(json.dumps(runs, indent=2))
    best = min(r["execute_to_launcher_ms"] for r in runs)
    assert best < 100, runs  # run + first render: 15-40 ms on the 2-core CI machine
    assert runs[0]["encoded_bytes"] < runs[0]["decoded_bytes"] / 2  # served gzipped


async def test_embedded_on_another_origin(widget_server: ServerProcess, widget: WidgetPage) -> None:
    """The usual case: the tenant's own site (here http://localhost:<port>, one of the
    demo site's allowed origins) loads the script from the Steadydesk server's origin."""
    page = widget.page
    host = f"http://localhost:{widget_server.port}/__widget_test/cross-origin.html"
    html = HOST_PAGE.replace('src="/widget.js"', f'src="{widget_server.url}/widget.js"').format(
        head="", body="", site_key=widget.site_key, attrs=""
    )

    async def fulfill(route):  # type: ignore[no-untyped-def]
        await route.fulfill(body=html, content_type="text/html; charset=utf-8")

    await page.route(host, fulfill)
    await widget.goto(host)
    await widget.open()
    await widget.send("Hello from another origin")
    await widget.wait_delivered(["Hello from another origin"], timeout=8)
