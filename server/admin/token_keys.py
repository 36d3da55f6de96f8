"""Visitor-token keys a tenant brought from another install (see server/security/tokens.py).

``steadydesk import`` stores them; the token signer looks one up the first time a visitor
token names it, then keeps it in memory.
"""

from __future__ import annotations

import binascii

from server.security.tokens import TenantKeys, decode_key, is_token_key_id
from server.storage.guard import TenantScope, cross_tenant
from server.storage.models import TenantTokenKey


def load_imported_key(kid: str, tenant: str) -> bytes | None:
    if not is_token_key_id(kid) or not tenant:
        return None
    row = TenantScope(tenant).get_or_none(TenantTokenKey, TenantTokenKey.kid == kid)
    if row is None:
        return None
    try:
        return decode_key(row.key)
    except (binascii.Error, ValueError):
        return None


def preload_imported_keys(keys: TenantKeys) -> int:
    """Put every stored key in ``keys`` (at start-up, off the event loop); how many."""
    count = 0
    with cross_tenant():  # every tenant's keys, on purpose
        for row in TenantTokenKey.select():
            try:
                keys.remember(row.kid, row.tenant_id, decode_key(row.key))
            except (binascii.Error, ValueError):
                continue
            count += 1
    return count
