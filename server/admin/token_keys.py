"""Visitor-token keys a tenant brought from another install (see server/security/tokens.py).

``steadydesk import`` stores them; the token signer looks one up the first time a visitor
token names it, then keeps it in memory.
"""

from __future__ import annotations

import binascii
import logging

from server.security.encryption import SealedValueError
from server.security.tokens import TenantKeys, decode_key, is_token_key_id
from server.storage.guard import TenantScope, cross_tenant
from server.storage.models import TenantTokenKey

log = logging.getLogger(__name__)


def load_imported_key(kid: str, tenant: str) -> bytes | None:
    if not is_token_key_id(kid) or not tenant:
        return None
    try:
        row = TenantScope(tenant).get_or_none(TenantTokenKey, TenantTokenKey.id == kid)
        return decode_key(row.key) if row is not None else None
    except (binascii.Error, ValueError, SealedValueError) as err:
        # Unopenable (its encryption key is gone) or malformed: as if unknown, so the
        # visitor starts a new session rather than meeting an error.
        log.warning("visitor-token key %s of tenant %s is unusable: %s", kid, tenant, err)
        return None


def preload_imported_keys(keys: TenantKeys) -> int:
    """Put every stored key in ``keys`` (at start-up, off the event loop); how many."""
    count = 0
    with cross_tenant():  # every tenant's keys, on purpose
        rows = [
            (r.id, r.tenant_id)
            for r in TenantTokenKey.select(TenantTokenKey.id, TenantTokenKey.tenant_id)
        ]
    for kid, tenant in rows:
        key = load_imported_key(kid, tenant)
        if key is not None:
            keys.remember(kid, tenant, key)
            count += 1
    return count
