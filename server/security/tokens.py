"""Server-signed, expiring tokens for visitors and agents (JWT, HS256)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Literal

import jwt

from server.errors import ErrorCode, Unauthorized

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
        return dt.datetime.fromtimestamp(self.expires_at, dt.UTC).isoformat().replace("+00:00", "Z")


class TokenSigner:
    def __init__(self, key: str):
        self._key = key

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
        return IssuedToken(jwt.encode(claims, self._key, algorithm=_ALGORITHM), now + ttl_secs)

    def verify(self, token: object, kind: TokenKind) -> TokenClaims:
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise Unauthorized("missing or malformed token", code=ErrorCode.BAD_TOKEN)
        try:
            claims = jwt.decode(
                token,
                self._key,
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
