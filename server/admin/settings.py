"""A tenant's settings, stored as JSON per key in the ``Setting`` table.

Minimal version (masking only) written for the secure branch; the admin branch owns the
full module (limits, working hours, the REST API) and keeps this function's contract:
``tenant_settings(tenant_id) -> TenantSettings`` with ``.masking.cards`` / ``.emails``.
"""

from __future__ import annotations

import orjson
from pydantic import BaseModel, ValidationError

from server.storage.guard import TenantScope
from server.storage.models import Setting


class Masking(BaseModel):
    cards: bool = False
    emails: bool = False


class TenantSettings(BaseModel):
    masking: Masking = Masking()


def _stored(scope: TenantScope, key: str) -> object:
    row = scope.get_or_none(Setting, Setting.key == key)
    if row is None:
        return None
    try:
        return orjson.loads(row.value)
    except orjson.JSONDecodeError:
        return None


def tenant_settings(tenant_id: str) -> TenantSettings:
    """The tenant's settings; defaults for anything unset or unreadable (blocking)."""
    scope = TenantScope(tenant_id)
    masking = _stored(scope, "masking")
    try:
        return TenantSettings(masking=Masking.model_validate(masking or {}))
    except ValidationError:
        return TenantSettings()
