"""``GET /widget.js`` (the visitor widget) and ``GET /`` (the demo page that embeds it)."""

from __future__ import annotations

import secrets

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html, raw

from server.admin.demo import demo_site_key
from server.gateway.context import Services
from server.widget import (
    SCRIPT_CONTENT_TYPE,
    demo_page,
    etag_matches,
    setup_page,
    widget_script,
)

# The script's URL carries no version, so caches keep it briefly and then revalidate with
# the ETag (a 304 of a few bytes): a new release reaches every visitor within minutes.
SCRIPT_CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=86400"


def _page_csp(nonce: str) -> str:
    # The demo page proves the widget runs under a strict policy: no inline script, no
    # inline style but the page's own nonced sheet (the widget uses constructed sheets).
    return (
        "default-src 'none'; script-src 'self'; connect-src 'self'; "
        f"style-src 'nonce-{nonce}'; img-src 'self' data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )


def build_widget_blueprint(services: Services) -> Blueprint:
    # Transport (https outside loopback) and the common headers come from the app-wide
    # middleware (server.gateway.http.install_middleware).
    bp = Blueprint("steadydesk_widget")
    settings = services.settings
    widget_script()  # read (and gzip) it now: a missing file fails at start, not per request

    @bp.get("/widget.js")
    async def get_widget_script(request: Request) -> HTTPResponse:
        script = widget_script()
        headers = {
            "ETag": script.etag,
            "Cache-Control": SCRIPT_CACHE_CONTROL,
            "Vary": "Accept-Encoding",
            # Pages with Cross-Origin-Embedder-Policy may load it from our origin.
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if etag_matches(request.headers.get("if-none-match"), script.etag):
            return HTTPResponse(status=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            headers["Content-Encoding"] = "gzip"
            return raw(script.gzipped, content_type=SCRIPT_CONTENT_TYPE, headers=headers)
        return raw(script.body, content_type=SCRIPT_CONTENT_TYPE, headers=headers)

    @bp.get("/")
    async def get_demo_page(request: Request) -> HTTPResponse:
        site_key = await services.store.run(demo_site_key, settings.tenant)
        nonce = secrets.token_urlsafe(16)
        page = demo_page(site_key, nonce) if site_key else setup_page(nonce)
        return html(
            page,
            headers={"Content-Security-Policy": _page_csp(nonce), "Cache-Control": "no-store"},
        )

    return bp
