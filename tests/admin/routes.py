"""The app's own route table, read in process, for the route-walk and OpenAPI tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from server.app import create_app
from server.config import load_settings

PARAM = re.compile(r"<([a-zA-Z_][a-zA-Z0-9_]*)(?::[^>]*)?>")
IGNORED_METHODS = {"HEAD"}  # Sanic answers HEAD for GET routes itself


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # "/api/v1/sites/<site_key:str>"
    access: str | None
    bridge: bool = False  # ctx_bridge: bridge tokens are let in too

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.path)

    @property
    def openapi_path(self) -> str:
        return PARAM.sub(lambda m: "{" + m.group(1) + "}", self.path)

    def url(self, values: dict[str, str]) -> str:
        return PARAM.sub(lambda m: values[m.group(1)], self.path)


def app_routes(data_dir: Path) -> list[Route]:
    """Every (method, path) of the app, with its declared ``ctx_access`` (or None)."""
    app = create_app(load_settings(data_dir=data_dir))
    try:
        found = set()
        for route in app.router.routes:
            path = "/" + route.path.lstrip("/")
            access = getattr(route.ctx, "access", None)
            bridge = bool(getattr(route.ctx, "bridge", False))
            for method in route.methods:
                if method not in IGNORED_METHODS:
                    found.add(Route(method, path, access, bridge))
        return sorted(found, key=lambda r: (r.path, r.method))
    finally:
        app.ctx.services.store.close()


def api_routes(data_dir: Path) -> list[Route]:
    return [r for r in app_routes(data_dir) if r.path.startswith("/api/")]
