"""Sites of a tenant: the widget's site key, its allowed origins and identity-hash rules.

The site secret is returned only by ``do_create_site`` and ``do_rotate_secret``; rotating
replaces it in the row every ``user_hash`` check reads, so the old one fails at once.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.errors import NotFound
from server.foundation import audit
from server.foundation.tx import admin_transaction
from server.foundation.validation import changed, iso, parse
from server.ids import new_secret
from server.kernel.actors import Actor
from server.kernel.enums import AiMode
from server.storage.guard import TenantScope
from server.storage.models import Site

MAX_ORIGINS = 50
MAX_ORIGIN_CHARS = 300  # scheme, a 253-character host name and a port; the list is one TEXT


def _check_origins(origins: list[str]) -> list[str]:
    cleaned = set()
    for origin in origins:
        if len(origin) > MAX_ORIGIN_CHARS:
            raise ValueError(f"an origin has at most {MAX_ORIGIN_CHARS} characters")
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError(f"{origin!r} is not an origin like https://example.com")
        cleaned.add(f"{parts.scheme}://{parts.netloc}".lower())
    return sorted(cleaned)


class SiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    allowed_origins: list[str] = Field(default_factory=list, max_length=MAX_ORIGINS)
    require_timed_hash: bool = False
    user_hash_max_age_secs: int | None = Field(default=None, ge=60, le=365 * 24 * 3600)
    csat_enabled: bool = True

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return _check_origins(value)


class SiteUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    allowed_origins: list[str] | None = Field(default=None, max_length=MAX_ORIGINS)
    require_timed_hash: bool | None = None
    user_hash_max_age_secs: int | None = Field(default=None, ge=60, le=365 * 24 * 3600)
    # When the tenant's AI robot answers first (docs/bridges.md, "Kind ai").
    ai_mode: AiMode | None = None
    # Offer visitors a rating when a conversation closes (server/chat/rating.py).
    csat_enabled: bool | None = None

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_origins(value)


def site_view(site: Site) -> dict[str, Any]:
    """What an admin sees of a site: everything but the secret."""
    return {
        "site_key": site.id,
        "name": site.name,
        "allowed_origins": json.loads(site.allowed_origins),
        "require_timed_hash": bool(site.require_timed_hash),
        "user_hash_max_age_secs": site.user_hash_max_age_secs,
        "created_at": iso(site.created_at),
        "ai_mode": site.ai_mode or AiMode.OFF.value,
        "csat_enabled": bool(site.csat_enabled),
    }


def access_site(scope: TenantScope, site_key: str) -> Site:
    """The tenant's site; another tenant's key is as unknown as a made-up one."""
    site = scope.get_or_none(Site, Site.id == site_key)
    if site is None:
        raise NotFound("no such site")
    return site


def list_sites(actor: Actor) -> list[dict[str, Any]]:
    scope = TenantScope(actor.tenant_id)
    return [site_view(s) for s in scope.select(Site).order_by(Site.created_at, Site.id)]


def get_site(actor: Actor, site_key: str) -> dict[str, Any]:
    return site_view(access_site(TenantScope(actor.tenant_id), site_key))


def do_create_site(actor: Actor, fields: object, ip: str) -> dict[str, Any]:
    data = parse(SiteCreate, fields)
    scope = TenantScope(actor.tenant_id)
    with admin_transaction():
        site = scope.create(
            Site,
            id="site_" + secrets.token_hex(10),
            name=data.name,
            secret=new_secret(32),
            allowed_origins=json.dumps(data.allowed_origins),
            require_timed_hash=data.require_timed_hash,
            user_hash_max_age_secs=data.user_hash_max_age_secs,
            csat_enabled=data.csat_enabled,
        )
        audit.record(actor, "site.create", site.id, data.model_dump(), ip)
    return {**site_view(site), "site_secret": site.secret}


def do_update_site(actor: Actor, site_key: str, fields: object, ip: str) -> dict[str, Any]:
    scope = TenantScope(actor.tenant_id)
    access_site(scope, site_key)  # 404 before 400
    data = parse(SiteUpdate, fields)
    changes = data.model_dump(exclude_unset=True)
    with admin_transaction():
        before = site_view(access_site(scope, site_key))
        values: dict[str, Any] = dict(changes)
        if "allowed_origins" in values:
            values["allowed_origins"] = json.dumps(values["allowed_origins"] or [])
        if values.get("name") is None:
            values.pop("name", None)
        for flag in ("require_timed_hash", "csat_enabled"):
            if values.get(flag) is None:
                values.pop(flag, None)
        if values.get("ai_mode") is None:
            values.pop("ai_mode", None)
        else:
            values["ai_mode"] = AiMode(values["ai_mode"]).value
        if values:
            scope.update(Site, **values).where(Site.id == site_key).execute()
        after = site_view(access_site(scope, site_key))
        audit.record(actor, "site.update", site_key, changed(before, after, changes), ip)
        return after


def do_rotate_secret(actor: Actor, site_key: str, ip: str) -> dict[str, Any]:
    scope = TenantScope(actor.tenant_id)
    with admin_transaction():
        access_site(scope, site_key)
        secret = new_secret(32)
        scope.update(Site, secret=secret).where(Site.id == site_key).execute()
        audit.record(actor, "site.rotate_secret", site_key, {"site_secret": secret}, ip)
        site = access_site(scope, site_key)
    return {**site_view(site), "site_secret": secret}


def do_delete_site(actor: Actor, site_key: str, ip: str) -> None:
    """The widget stops working at once; conversations and visitors of the site stay.
    ``AdminService.delete_site`` (``server/admin/service.py``) runs it, then disconnects
    the site's visitors."""
    scope = TenantScope(actor.tenant_id)
    with admin_transaction():
        site = access_site(scope, site_key)
        scope.delete(Site).where(Site.id == site_key).execute()
        audit.record(actor, "site.delete", site_key, {"name": site.name}, ip)
