"""Tenant settings: one ``Setting`` row per section (``limits``, ``masking``), JSON validated
by pydantic. Readers call ``tenant_settings(tenant_id)``; an unset section has its defaults.

Reads are cached per tenant for a few seconds (the send path reads ``masking`` per message);
a write on this node drops the cache at once, other nodes see it when their entry expires.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server.errors import BadRequest
from server.foundation import audit
from server.foundation.tx import admin_transaction, lock_tenant
from server.foundation.validation import first_error
from server.kernel.actors import Actor
from server.storage.guard import TenantScope
from server.storage.models import Setting

CACHE_TTL_SECS = 5.0
ATTACHMENT_MAX_BYTES_CEILING = 50 * 2**20  # the most a tenant may allow per attachment


class Limits(BaseModel):
    """Per-tenant limits; ``None`` means "the node's configured default"."""

    model_config = ConfigDict(extra="forbid")

    body_max_chars: int | None = Field(default=None, ge=1, le=60000)
    ws_rate_visitor: int | None = Field(default=None, ge=1, le=100000)
    ws_rate_agent: int | None = Field(default=None, ge=1, le=100000)
    # How many personal canned replies each agent may keep (0: none); tenant-wide ones
    # are not counted. Listing caps the tenant-wide and personal replies together at 2000.
    canned_personal_max: int = Field(default=200, ge=0, le=1000)
    # The largest attachment a visitor or agent may upload, in bytes (issue #19).
    attachment_max_bytes: int = Field(default=10 * 2**20, ge=1024, le=ATTACHMENT_MAX_BYTES_CEILING)


class Masking(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cards: bool = False
    emails: bool = False


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limits: Limits = Limits()
    masking: Masking = Masking()


SECTIONS: tuple[str, ...] = tuple(TenantSettings.model_fields)

_cache: dict[str, tuple[float, TenantSettings]] = {}
_cache_lock = threading.Lock()
_forgotten = 0  # forgets so far: a read keeps its result only if none came since (it may
# hold the settings from before the change that was forgotten)


def load_settings(tenant_id: str) -> TenantSettings:
    """Read from the database, skipping the cache (call inside ``store.run``)."""
    rows = TenantScope(tenant_id).select(Setting).where(Setting.key.in_(SECTIONS))
    stored: dict[str, Any] = {}
    for row in rows:
        try:
            stored[row.key] = orjson.loads(row.value)
        except orjson.JSONDecodeError:
            continue  # a damaged row falls back to the defaults rather than breaking chat
    try:
        return TenantSettings.model_validate(stored)
    except ValidationError:
        return TenantSettings()


def tenant_settings(tenant_id: str) -> TenantSettings:
    """The tenant's settings, at most ``CACHE_TTL_SECS`` old (call inside ``store.run``)."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(tenant_id)
        generation = _forgotten
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load_settings(tenant_id)
    with _cache_lock:
        if generation == _forgotten:
            _cache[tenant_id] = (now + CACHE_TTL_SECS, value)
    return value


def forget(tenant_id: str) -> None:
    global _forgotten
    with _cache_lock:
        _forgotten += 1
        _cache.pop(tenant_id, None)


def forget_all() -> None:
    global _forgotten
    with _cache_lock:
        _forgotten += 1
        _cache.clear()


def put_setting(scope: TenantScope, key: str, value: str) -> None:
    """Create or replace one setting row (inside a transaction that called ``lock_tenant``).
    Whether the row exists is read, never inferred from an UPDATE's row count: MySQL counts
    changed rows, so saving an unchanged value counted 0 and inserted a duplicate."""
    if scope.get_or_none(Setting, Setting.key == key) is None:
        scope.create(Setting, key=key, value=value)
    else:
        scope.update(Setting, value=value).where(Setting.key == key).execute()


def check_settings_update(fields: object) -> dict[str, Any]:
    """Validate a partial update: known sections only, each a complete or partial object."""
    if not isinstance(fields, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(fields) - set(SECTIONS))
    if unknown:
        raise BadRequest(f"unknown settings: {', '.join(unknown)}")
    return fields


def do_update_settings(actor: Actor, fields: object, ip: str) -> TenantSettings:
    """Merge ``fields`` into the stored sections, validate, save and audit in one transaction."""
    update = check_settings_update(fields)
    scope = TenantScope(actor.tenant_id)
    with admin_transaction():
        lock_tenant(actor.tenant_id)
        current = load_settings(actor.tenant_id).model_dump()
        for section, values in update.items():
            if not isinstance(values, dict):
                raise BadRequest(f"{section} must be an object")
            current[section] = {**current[section], **values}
        try:
            merged = TenantSettings.model_validate(current)
        except ValidationError as err:
            raise BadRequest(first_error(err)) from None
        for section in update:
            value = orjson.dumps(getattr(merged, section).model_dump()).decode()
            put_setting(scope, section, value)
        audit.record(actor, "settings.update", "settings", update, ip)
    forget(actor.tenant_id)
    return merged
