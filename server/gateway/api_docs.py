"""``GET /docs/api``: the API reference for integrators, Swagger UI over
``/api/v1/openapi.json``.

Swagger UI's files come from the ``swagger-ui-bundle`` package and are served by the node
itself (a node calls out to nothing: no CDN). The page has no inline script or style, so
its Content-Security-Policy allows only this origin; the validator badge (which would call
an outside service) is switched off. Only the files the page names are served, read
(and gzipped) once at start.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import cache

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html, raw

from server.errors import NotFound
from server.gateway.openapi import OPENAPI_PATH

DOCS_PATH = "/docs/api"
ASSETS_PATH = DOCS_PATH + "/assets"
INIT_SCRIPT = DOCS_PATH + "/init.js"
ASSET_CACHE_CONTROL = "public, max-age=86400"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

# The files of the bundle the page loads, and their types.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}

PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Steadydesk API reference</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{INIT_SCRIPT}"></script>
</body>
</html>
"""

INIT = f"""window.addEventListener("load", function () {{
  window.ui = SwaggerUIBundle({{
    url: "{OPENAPI_PATH}",
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  }});
}});
"""


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    content_type: str


@cache
def load_assets() -> dict[str, Asset]:
    """The page's files, read from the installed package (a missing one fails at start)."""
    from swagger_ui_bundle import swagger_ui_path

    found = {}
    for name, content_type in ASSETS.items():
        body = (swagger_ui_path / name).read_bytes()
        found[name] = Asset(body, gzip.compress(body, mtime=0), content_type)
    return found


def build_api_docs_blueprint() -> Blueprint:
    bp = Blueprint("steadydesk_api_docs")
    assets = load_assets()

    @bp.get(DOCS_PATH)
    async def get_api_docs(request: Request) -> HTTPResponse:
        return html(PAGE, headers={"Content-Security-Policy": CSP})

    @bp.get(INIT_SCRIPT)
    async def get_api_docs_init(request: Request) -> HTTPResponse:
        return raw(
            INIT.encode(),
            content_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": ASSET_CACHE_CONTROL},
        )

    @bp.get(ASSETS_PATH + "/<name:str>")
    async def get_api_docs_asset(request: Request, name: str) -> HTTPResponse:
        asset = assets.get(name)
        if asset is None:
            raise NotFound("no such file")
        headers = {"Cache-Control": ASSET_CACHE_CONTROL, "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            headers["Content-Encoding"] = "gzip"
            return raw(asset.gzipped, content_type=asset.content_type, headers=headers)
        return raw(asset.body, content_type=asset.content_type, headers=headers)

    return bp
