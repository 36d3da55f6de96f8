"""API keys for a tenant's own backend (signed requests, PROTOCOL §3).

The secret is shown once, by ``do_create_api_key``. Revoking sets ``revoked_at``; every
signed request looks the key up afresh, so the next one after a revoke fails (401).
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from server.errors import NotFound
from server.foundation import audit
from server.foundation.tx import admin_transaction
from server.foundation.validation import iso, parse
from server.ids import new_secret
from server.kernel.actors import Actor
from server.storage.guard import TenantScope
from server.storage.models import ApiKey, utcnow


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    role: Literal["agent", "admin"] = "admin"


def api_key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "role": key.role,
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
    }


def list_api_keys(actor: Actor) -> list[dict[str, Any]]:
    scope = TenantScope(actor.tenant_id)
    return [api_key_view(k) for k in scope.select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)]


def do_create_api_key(actor: Actor, fields: object, ip: str) -> dict[str, Any]:
    data = parse(ApiKeyCreate, fields)
    scope = TenantScope(actor.tenant_id)
    with admin_transaction():
        key = scope.create(
            ApiKey,
            id="key_" + secrets.token_hex(10),
            name=data.name,
            secret=new_secret(32),
            role=data.role,
        )
        audit.record(actor, "api_key.create", key.id, data.model_dump(), ip)
    return {**api_key_view(key), "secret": key.secret}


def do_revoke_api_key(actor: Actor, key_id: str, ip: str) -> dict[str, Any]:
    scope = TenantScope(actor.tenant_id)
    with admin_transaction():
        key = scope.get_or_none(ApiKey, ApiKey.id == key_id)
        if key is None:
            raise NotFound("no such API key")
        if key.revoked_at is None:
            scope.update(ApiKey, revoked_at=utcnow()).where(ApiKey.id == key_id).execute()
        audit.record(actor, "api_key.revoke", key_id, {"name": key.name}, ip)
        revoked = scope.get_or_none(ApiKey, ApiKey.id == key_id)
    assert revoked is not None
    return api_key_view(revoked)
