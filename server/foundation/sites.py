"""The site a public ``site_key`` names, and whether a browser origin may use it: asked by
the visitor session (admin), the availability answer (routing) and the WebSocket handshake."""

from __future__ import annotations

import json

from server.errors import NotFound
from server.storage.guard import cross_tenant
from server.storage.models import Site


def find_site(site_key: object) -> Site:
    if not isinstance(site_key, str) or not site_key or len(site_key) > 40:
        raise NotFound("unknown site_key")
    # The site key is what tells us the tenant: this lookup is the one place it is found.
    with cross_tenant():
        site = Site.select().where(Site.id == site_key).first()
    if site is None:
        raise NotFound("unknown site_key")
    return site


def origin_allowed(site: Site, origin: str | None) -> bool:
    if origin is None:
        return True  # not a browser (apps, bridges, tests)
    return origin.rstrip("/") in json.loads(site.allowed_origins)
