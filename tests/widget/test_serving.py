"""``GET /widget.js`` and ``GET /``: what the server serves, with which headers."""

from __future__ import annotations

import json

from tests.support.clients import get, visitor_session
from tests.support.http import http_client
from tests.support.server import DemoTenant, ServerFactory, ServerProcess
from tests.widget.helpers import artifact

SCRIPT_MAX_BYTES = 84 * 1024  # the budget; see docs/widget.md for the current figures
# Raised from 20 KiB with the forms, CSAT and page trail; from 24 KiB by attachments
# (issue #19: +3,640 bytes gzipped, measured; see docs/widget.md).
SCRIPT_MAX_GZIP_BYTES = 28 * 1024


async def test_widget_script_is_served_small_cacheable_and_compressed(
    widget_server: ServerProcess,
) -> None:
    plain = await get(widget_server, "/widget.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "application/javascript; charset=utf-8"
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert plain.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "max-age=" in plain.headers["cache-control"]
    assert "no-store" not in plain.headers["cache-control"]
    assert "content-encoding" not in plain.headers
    etag = plain.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert "data-site" in plain.text and "document.currentScript" in plain.text

    async with http_client(base_url=widget_server.url) as http:
        zipped = await http.get("/widget.js", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["vary"] == "Accept-Encoding"
        assert zipped.content == plain.content  # httpx decoded it
        wire = int(zipped.headers["content-length"])
        assert wire < len(plain.content) / 2

        for validator in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
            again = await http.get("/widget.js", headers={"If-None-Match": validator})
            assert again.status_code == 304, validator
            assert again.content == b""
            assert again.headers["etag"] == etag
        changed = await http.get("/widget.js", headers={"If-None-Match": '"other"'})
        assert changed.status_code == 200

    size = len(plain.content)
    artifact("bundle-size.json").write_text(json.dumps({"bytes": size, "gzip_bytes": wire}))
    print(f"widget.js: {size} bytes, {wire} bytes gzipped")
    assert size < SCRIPT_MAX_BYTES
    assert wire < SCRIPT_MAX_GZIP_BYTES


async def test_demo_page_embeds_the_demo_site(widget_server: ServerProcess) -> None:
    assert widget_server.demo is not None
    resp = await get(widget_server, "/")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert resp.headers["cache-control"] == "no-store"
    page = resp.text
    tag = f'<script src="/widget.js" data-site="{widget_server.demo.site_key}" async></script>'
    assert tag in page
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'<style nonce="{nonce}">' in page
    assert (
        nonce
        != (await get(widget_server, "/"))
        .headers["content-security-policy"]
        .split("'nonce-", 1)[1]
        .split("'", 1)[0]
    )


async def test_the_demo_page_works_on_whatever_port_the_node_serves(
    server_factory: ServerFactory,
) -> None:
    """``demo`` records the configured address (:8800 here); a node then started with
    ``serve --port P`` answered its own demo page's chat with 403 ("Chat is not available on
    this site"). It now adds its address to the demo site's origins, and only that."""
    srv = server_factory(start=False)
    srv.demo = srv.run_demo()  # STEADY_PORT unset: the demo site allows :8800
    assert srv.port != 8800
    await srv.astart()
    for page in (srv.url, srv.url.replace("127.0.0.1", "localhost")):
        resp = await visitor_session(srv, origin=page)
        assert resp.status_code == 200, (page, resp.text)
    assert (await visitor_session(srv, origin="http://127.0.0.1:8800")).status_code == 200
    elsewhere = await visitor_session(srv, origin="http://127.0.0.1:1")
    assert elsewhere.status_code == 403


async def test_without_a_demo_site_the_root_page_says_how_to_make_one(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory(start=False)
    # Pretend the demo already ran, so the server starts with an empty database.
    srv.demo = DemoTenant.from_json(
        {
            "tenant": "none",
            "site_key": "-",
            "site_secret": "-",
            "origin": srv.url,
            "admin": {"email": "-", "password": "-"},
            "agents": [{"email": "-", "password": "-"}] * 2,
            "api_key": "-",
            "api_secret": "-",
        }
    )
    await srv.astart()
    resp = await get(srv, "/")
    assert resp.status_code == 200
    assert "steadydesk demo" in resp.text
    assert "<script" not in resp.text  # the embed snippet is shown, not run
    assert (await get(srv, "/widget.js")).status_code == 200
