"""Password login, one function for agents and platform operators.

Both check the throttle, look the account up, verify the password (in constant time
whether or not the account exists), log the attempt, and issue a token; they differ only
in where the account is found, which tenant the attempt is logged under and the token's
kind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from server.errors import ErrorCode, TooManyRequests, Unauthorized
from server.security.passwords import verify_password
from server.security.tokens import IssuedToken, TokenKind, TokenSigner
from server.storage.guard import TenantScope, cross_tenant
from server.storage.models import LoginLog, utcnow


@dataclass(frozen=True)
class ClientInfo:
    ip: str
    user_agent: str
    origin: str | None


@dataclass(frozen=True)
class LoginPolicy:
    max_failures_account: int
    max_failures_ip: int
    window_secs: int
    ttl_secs: int


class Account(Protocol):
    """What login needs of an account (an ``Agent`` or an ``Operator`` row)."""

    id: str
    password_hash: str
    disabled: bool
    token_version: int


A = TypeVar("A", bound=Account)


@dataclass(frozen=True)
class PasswordLogin:
    """Where one kind of account logs in."""

    token_kind: TokenKind
    scope: TenantScope  # the login log's tenant, and the token's
    wrong: str  # the message of a failed attempt (it never says which part was wrong)
    source: str | None = None  # the login log's source on a checked attempt (None: default)


def password_login(
    signer: TokenSigner,
    login: PasswordLogin,
    email: str,
    password: str,
    find: Callable[[], A | None],
    client: ClientInfo,
    policy: LoginPolicy,
) -> tuple[A, IssuedToken]:
    """Check one attempt and log it; the account and its token, or raise."""
    scope = login.scope
    attempt = {"username": email, "ip": client.ip, "user_agent": client.user_agent[:500]}
    if _throttled(scope, email, client.ip, policy):
        scope.create(LoginLog, **attempt, success=False, source="throttled")
        raise TooManyRequests(
            "too many failed attempts, try again later", code=ErrorCode.TOO_MANY_ATTEMPTS
        )
    account = find()
    ok = verify_password(account.password_hash if account else None, password)
    ok = ok and account is not None and not account.disabled
    source = {"source": login.source} if login.source else {}
    scope.create(LoginLog, **attempt, success=ok, **source)
    if not ok or account is None:
        raise Unauthorized(login.wrong, code=ErrorCode.BAD_CREDENTIALS)
    token = signer.issue(
        login.token_kind,
        tenant=scope.tenant_id,
        subject=account.id,
        version=account.token_version,
        ttl_secs=policy.ttl_secs,
    )
    return account, token


def _throttled(scope: TenantScope, email: str, ip: str, policy: LoginPolicy) -> bool:
    since = utcnow() - dt.timedelta(seconds=policy.window_secs)
    account_failures = (
        scope.select(LoginLog)
        .where(LoginLog.username == email, LoginLog.success == False, LoginLog.created_at >= since)  # noqa: E712
        .count()
    )
    with cross_tenant():  # one address guessing across tenants is still one address
        ip_failures = (
            LoginLog.select()
            .where(LoginLog.ip == ip, LoginLog.success == False, LoginLog.created_at >= since)  # noqa: E712
            .count()
        )
    return account_failures >= policy.max_failures_account or ip_failures >= policy.max_failures_ip
