"""Server-signed, expiring tokens for visitors and agents (JWT, HS256).

Agent and operator tokens are signed with the install's secret key. Visitor tokens are
signed with a key of their tenant and name it in the JWT header (``kid``), so a tenant
that moves to another install (``steadydesk export --with-credentials`` then ``import``)
takes its visitors' sessions along without the install key, which signs every tenant's
tokens, ever leaving (see docs/backups.md). A tenant's own key is derived from the install
key (HKDF), so it is never stored; keys brought from another install are looked up by
``kid`` and only ever accepted for visitor tokens of that same tenant. Visitor tokens
without a ``kid`` (issued before tenant keys) still verify with the install key.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from server.errors import ErrorCode, Unauthorized
from server.times import iso_ms

TokenKind = Literal["visitor", "agent", "operator"]
_ALGORITHM = "HS256"
_ISSUER = "steadydesk"


@dataclass(frozen=True)
class TokenClaims:
    kind: TokenKind
    tenant: str
    subject: str  # visitor id or agent id
    site: str | None
    version: int  # agents: revocation counter; visitors: 0
    expires_at: int


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: int

    @property
    def expires_iso(self) -> str:
        return iso_ms(self.expires_at * 1000)


TENANT_KEY_BYTES = 32
_KID_PREFIX = "tk1-"
_KID_RE = re.compile(r"^tk1-[0-9a-f]{20}$")
_HKDF_INFO = b"steadydesk visitor tokens v1:"

# (kid, tenant) -> the key the tenant brought along, from storage, or None. Blocking: only
# called off the event loop (see TenantKeys.key_for).
ImportedKeyLoader = Callable[[str, str], "bytes | None"]


def token_key_id(key: bytes) -> str:
    """The public name of a visitor-token key (a fingerprint: it reveals nothing of it)."""
    return _KID_PREFIX + hashlib.sha256(key).hexdigest()[:20]


def is_token_key_id(kid: object) -> bool:
    return isinstance(kid, str) and bool(_KID_RE.match(kid))


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class TenantKeys:
    """Visitor-token keys per tenant: its own (derived) and those it brought along."""

    def __init__(self, install_key: str, load_imported: ImportedKeyLoader | None = None):
        self._install_key = install_key.encode()
        self._load_imported = load_imported
        self._imported: dict[str, tuple[str, bytes]] = {}
        self._lock = threading.Lock()
        # Bounded: tokens name any tenant they like, and each name costs a derivation.
        self.own = functools.lru_cache(maxsize=4096)(self._derive)

    def _derive(self, tenant: str) -> tuple[str, bytes]:
        """This install's key for ``tenant``, and its kid."""
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=TENANT_KEY_BYTES,
            salt=None,
            info=_HKDF_INFO + tenant.encode(),
        ).derive(self._install_key)
        return token_key_id(key), key

    def remember(self, kid: str, tenant: str, key: bytes) -> None:
        """Accept ``key`` (an imported one) for ``tenant``'s visitor tokens naming ``kid``."""
        with self._lock:
            self._imported[kid] = (tenant, key)

    def key_for(self, kid: str, tenant: str) -> bytes | None:
        """The key a visitor token of ``tenant`` naming ``kid`` must be signed with."""
        own_kid, own_key = self.own(tenant)
        if kid == own_kid:
            return own_key
        found = self._imported.get(kid)
        # Storage is asked only off the event loop (the visitor session runs on the query
        # pool): keys imported while a node runs are found there first, then cached.
        if found is None and self._load_imported is not None and not _on_event_loop():
            key = self._load_imported(kid, tenant)
            if key is not None:
                found = (tenant, key)
                self.remember(kid, tenant, key)
        if found is None or found[0] != tenant:
            return None
        return found[1]


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str) -> bytes:
    key = base64.b64decode(text, validate=True)
    if len(key) != TENANT_KEY_BYTES:
        raise ValueError(f"a visitor-token key is {TENANT_KEY_BYTES} bytes")
    return key


class TokenSigner:
    def __init__(self, key: str, tenant_keys: TenantKeys | None = None):
        self._key = key
        self.tenant_keys = tenant_keys

    def issue(
        self,
        kind: TokenKind,
        *,
        tenant: str,
        subject: str,
        ttl_secs: int,
        site: str | None = None,
        version: int = 0,
    ) -> IssuedToken:
        now = int(time.time())
        claims = {
            "iss": _ISSUER,
            "knd": kind,
            "ten": tenant,
            "sub": subject,
            "ver": version,
            "iat": now,
            "exp": now + ttl_secs,
        }
        if site:
            claims["sit"] = site
        if kind == "visitor" and self.tenant_keys is not None:
            kid, key = self.tenant_keys.own(tenant)
            token = jwt.encode(claims, key, algorithm=_ALGORITHM, headers={"kid": kid})
        else:
            token = jwt.encode(claims, self._key, algorithm=_ALGORITHM)
        return IssuedToken(token, now + ttl_secs)

    def _key_of(self, token: str, kind: TokenKind) -> str | bytes:
        """The key ``token`` must verify with: a visitor token naming a tenant key needs
        that key, anything else the install key."""
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None:
            return self._key
        if kind != "visitor" or self.tenant_keys is None or not is_token_key_id(kid):
            raise jwt.InvalidTokenError("unexpected key id")
        unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        tenant = unverified.get("ten")
        key = self.tenant_keys.key_for(kid, tenant) if isinstance(tenant, str) else None
        if key is None:
            raise jwt.InvalidTokenError("unknown key id")
        return key

    def verify(self, token: object, kind: TokenKind) -> TokenClaims:
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise Unauthorized("missing or malformed token", code=ErrorCode.BAD_TOKEN)
        try:
            claims = jwt.decode(
                token,
                self._key_of(token, kind),
                algorithms=[_ALGORITHM],
                issuer=_ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired", code=ErrorCode.BAD_TOKEN) from None
        except jwt.InvalidTokenError:
            raise Unauthorized("invalid token", code=ErrorCode.BAD_TOKEN) from None
        if claims.get("knd") != kind:
            raise Unauthorized(f"not a {kind} token", code=ErrorCode.BAD_TOKEN)
        return TokenClaims(
            kind=kind,
            tenant=str(claims["ten"]),
            subject=str(claims["sub"]),
            site=claims.get("sit"),
            version=int(claims.get("ver", 0)),
            expires_at=int(claims["exp"]),
        )
