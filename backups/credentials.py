"""What counts as a credential in an export, and what stands in for one that was left out.

Left out unless ``--with-credentials``: agents' password hashes, site secrets, API key
secrets, bridge token hashes, and the visitor-token key (whoever holds them can sign in,
sign requests, run a bridge or sign visitor tokens as the tenant's people). Where a row
must still be whole (an import, a SQL export), each gets a stand-in that grants nothing: a
password hash that never verifies (agents reset their passwords), a new site secret, and
for API keys and bridges a new secret or hash on a key or bridge that is revoked.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from server.ids import new_secret
from server.storage.models import utcnow

CREDENTIAL_COLUMNS = {
    "agent": ("password_hash",),
    "site": ("secret",),
    "api_key": ("secret",),
    "bridge": ("token_hash",),
}
# Revoked when their credential stayed behind: they could not be used anyway.
REVOKED_WITHOUT_CREDENTIALS = frozenset({"api_key", "bridge"})
CREDENTIAL_TABLES = frozenset({"tenant_token_key"})
UNUSABLE_PASSWORD_HASH = "!imported-without-credentials"  # not a hash: never verifies

STAND_INS: dict[tuple[str, str], Callable[[], Any]] = {
    ("agent", "password_hash"): lambda: UNUSABLE_PASSWORD_HASH,
    ("site", "secret"): lambda: new_secret(32),
    ("api_key", "secret"): lambda: new_secret(32),
    ("bridge", "token_hash"): lambda: secrets.token_hex(32),  # unique, matches no token
}


def revoke_now() -> str:
    """``revoked_at`` of an API key or a bridge whose credential stayed behind."""
    return utcnow().isoformat(sep=" ")
