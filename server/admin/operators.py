"""Platform operators (SaaS mode): created with the CLI, log in with their own route, and
use the admin API of any tenant they name. Their logins are logged under ``PLATFORM``."""

from __future__ import annotations

import re
from typing import Any

import peewee as pw
from pydantic import BaseModel, ConfigDict, Field

from server.admin.login import ClientInfo, LoginPolicy, PasswordLogin, password_login
from server.admin.provisioning import create_tenant
from server.errors import (
    BadRequest,
    Conflict,
    ErrorCode,
    NotFound,
    Unauthorized,
)
from server.foundation import audit
from server.foundation.tx import admin_transaction
from server.foundation.validation import iso, parse
from server.ids import new_id
from server.kernel.actors import Actor
from server.kernel.enums import Role, SenderType
from server.security.passwords import hash_password
from server.security.tokens import TokenClaims, TokenSigner
from server.storage.guard import TenantScope
from server.storage.models import Operator, Tenant

# Login-log rows of operators: not a valid tenant slug, so no tenant can ever read them.
PLATFORM = "_platform"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD_CHARS = 12


def create_operator(email: str, password: str, name: str = "") -> Operator:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise BadRequest("email is not valid")
    if len(password) < MIN_PASSWORD_CHARS:
        raise BadRequest(f"an operator password needs at least {MIN_PASSWORD_CHARS} characters")
    try:
        return Operator.create(
            id=new_id(), email=email, name=name or email, password_hash=hash_password(password)
        )
    except pw.IntegrityError:
        raise Conflict(f"operator {email} exists", code=ErrorCode.ALREADY_EXISTS) from None


class OperatorLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=200)


def operator_login(
    signer: TokenSigner, fields: dict[str, Any], client: ClientInfo, policy: LoginPolicy
) -> dict[str, Any]:
    data = parse(OperatorLogin, fields)
    email = data.email.strip().lower()

    def find() -> Operator | None:
        return Operator.get_or_none(Operator.email == email)

    login = PasswordLogin("operator", TenantScope(PLATFORM), "wrong email or password", "operator")
    operator, token = password_login(signer, login, email, data.password, find, client, policy)
    return {
        "token": token.token,
        "expires_at": token.expires_iso,
        "operator": {"id": operator.id, "email": operator.email, "name": operator.name},
    }


def operator_identity(claims: TokenClaims) -> Operator:
    operator = Operator.get_or_none(Operator.id == claims.subject)
    if operator is None or operator.disabled or operator.token_version != claims.version:
        raise Unauthorized("token revoked", code=ErrorCode.BAD_TOKEN)
    return operator


def platform_actor(claims: TokenClaims, user_agent: str = "") -> Actor:
    """The operator acting on the platform itself (its operators and logs: ``PLATFORM``)."""
    operator = operator_identity(claims)
    return Actor(SenderType.OPERATOR, operator.id, PLATFORM, operator.name, user_agent=user_agent)


def operator_actor(claims: TokenClaims, tenant_id: str) -> Actor:
    """The operator acting as an admin of ``tenant_id`` (which must exist: else 404)."""
    operator = operator_identity(claims)
    if not tenant_id or Tenant.get_or_none(Tenant.id == tenant_id[:64]) is None:
        raise NotFound("no such tenant")
    return Actor(SenderType.OPERATOR, operator.id, tenant_id, operator.name, role=Role.ADMIN.value)


def list_tenants() -> list[dict[str, Any]]:
    return [
        {"id": t.id, "name": t.name, "created_at": iso(t.created_at)}
        for t in Tenant.select().order_by(Tenant.id)
    ]


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=63)
    name: str = Field(default="", max_length=200)


def do_create_tenant(
    claims: TokenClaims, fields: object, ip: str, user_agent: str = ""
) -> dict[str, Any]:
    data = parse(TenantCreate, fields)
    operator = operator_identity(claims)
    with admin_transaction():
        try:
            tenant = create_tenant(data.id, data.name or None)
        except Conflict:
            raise Conflict(f"tenant {data.id} exists", code=ErrorCode.ALREADY_EXISTS) from None
        actor = Actor(
            SenderType.OPERATOR,
            operator.id,
            tenant.id,
            operator.name,
            role="admin",
            user_agent=user_agent,
        )
        audit.record(actor, "tenant.create", tenant.id, data.model_dump(), ip)
    return {"id": tenant.id, "name": tenant.name, "created_at": iso(tenant.created_at)}
