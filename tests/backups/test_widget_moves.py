"""The widget follows its tenant to another install (issue #15): export from the old one
(``--with-credentials``), import into a new one with a secret key of its own, point the
site's script tag at the new server, and the visitor's widget, with nothing but its old
token kept, resumes the same conversation there; its next message reaches the same
conversation, where an agent who signs in with the old password reads it all. In Chromium,
on each backend."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext

from tests.admin.conftest import call
from tests.backups.support import cli_ok
from tests.support.clients import Clients, cached_login
from tests.support.server import ServerFactory, ServerProcess
from tests.widget.conftest import browser, context  # noqa: F401  (Chromium fixtures)
from tests.widget.helpers import WidgetPage, accept, artifact

SHOP = "http://shop.example"  # the tenant's own site, where the script tag lives
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>Shop</h1><script src="{server}/widget.js" data-site="{site_key}" async></script>
</body></html>"""


async def serve_shop_page(widget: WidgetPage, server: ServerProcess) -> None:
    html = PAGE.format(server=server.url, site_key=widget.site_key)

    async def fulfill(route):  # type: ignore[no-untyped-def]
        await route.fulfill(body=html, content_type="text/html; charset=utf-8")

    await widget.page.unroute(SHOP + "/")
    await widget.page.route(SHOP + "/", fulfill)


def claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    data: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return data


async def test_the_widget_resumes_its_conversation_on_the_new_install(
    server_factory: ServerFactory, context: BrowserContext, clients: Clients,  # noqa: F811
    tmp_path: Path,
) -> None:
    old = server_factory({"STEADY_HEARTBEAT_SECS": "3"})
    assert old.demo is not None
    demo = old.demo
    admin = (await cached_login(old, demo.admin))["token"]
    allowed = await call(old, "PATCH", f"/api/v1/sites/{demo.site_key}", token=admin,
                         body={"allowed_origins": [SHOP]})
    assert allowed.status_code == 200, allowed.text

    widget = await WidgetPage.new(context, demo.site_key)
    await serve_shop_page(widget, old)
    await widget.goto(SHOP + "/")
    await widget.open()
    await widget.send("Hello from the old install")
    await widget.wait_delivered(["Hello from the old install"])
    conv = await widget.conversation()
    agent = await clients.agent(old, demo.agents[0])
    await accept(agent, conv)
    await agent.send_and_ack("Hi, this is the old install", conv)
    await widget.wait_text("Hi, this is the old install")
    visitor_id = claims((await widget.storage("token"))["token"])["sub"]

    moved = tmp_path / "tenant.jsonl"
    cli_ok(old.env, "export", "--tenant", demo.tenant, "--decrypt", "--with-credentials",
           "--out", str(moved))
    await clients.close_all()
    await old.astop()  # the old install is gone

    new = server_factory({"STEADY_HEARTBEAT_SECS": "3", "STEADY_TENANT": "landing"})
    assert new.env.get("STEADY_SECRET_KEY") is None  # a secret key of its own
    cli_ok(new.env, "import", str(moved))

    # Only the token survives in the browser: the conversation comes from the new server.
    await widget.page.evaluate(
        "(site) => Object.keys(localStorage).filter((k) => k.startsWith('steadydesk:' + site)"
        " && !k.endsWith(':token')).forEach((k) => localStorage.removeItem(k))",
        demo.site_key,
    )
    await serve_shop_page(widget, new)
    await widget.reload()
    await widget.open()
    await widget.wait_text("Hi, this is the old install")
    await widget.wait_text("Hello from the old install")
    assert await widget.conversation() == conv
    token = (await widget.storage("token"))["token"]
    assert claims(token)["sub"] == visitor_id  # the same visitor, now on the new install

    await widget.send("Still there after the move?")
    await widget.wait_delivered(["Still there after the move?"])
    assert await widget.conversation() == conv
    agent = await clients.agent(new, demo.agents[0], demo=demo)  # the old password works
    bodies = [m["body"] for m in await agent.history(conv)]
    assert bodies == ["Hello from the old install", "Hi, this is the old install",
                      "Still there after the move?"]
    await widget.page.screenshot(path=str(artifact("moved-install.png")))
    assert not widget.errors, widget.errors


pytestmark = pytest.mark.usefixtures("browser")
