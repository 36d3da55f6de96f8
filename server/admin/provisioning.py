"""Creating tenants, sites, agents and API keys (CLI and, later, the admin API)."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import peewee as pw

from server.errors import BadRequest, Conflict, ErrorCode, NotFound
from server.ids import new_id, new_secret
from server.kernel.enums import Role
from server.security.passwords import hash_password
from server.storage.database import db
from server.storage.guard import TenantScope
from server.storage.models import Agent, ApiKey, Site, Tenant

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def check_slug(tenant_id: str) -> str:
    if not _SLUG.match(tenant_id or ""):
        raise BadRequest("tenant must be a slug: a-z, 0-9, '-' and '_', up to 63 characters")
    return tenant_id


def create_tenant(tenant_id: str, name: str | None = None) -> Tenant:
    check_slug(tenant_id)
    try:
        return Tenant.create(id=tenant_id, name=name or tenant_id)
    except pw.IntegrityError:
        raise Conflict(f"tenant {tenant_id} exists", code=ErrorCode.BAD_REQUEST) from None


def get_tenant(tenant_id: str) -> Tenant:
    tenant = Tenant.get_or_none(Tenant.id == tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id}")
    return tenant


def create_site(tenant_id: str, name: str, origins: list[str]) -> Site:
    get_tenant(tenant_id)
    return TenantScope(tenant_id).create(
        Site,
        id="site_" + secrets.token_hex(10),
        name=name,
        secret=new_secret(32),
        allowed_origins=json.dumps(sorted({o.rstrip("/") for o in origins})),
    )


def create_agent(
    tenant_id: str,
    email: str,
    password: str,
    *,
    name: str = "",
    role: Role = Role.AGENT,
    capacity: int = 5,
) -> Agent:
    get_tenant(tenant_id)
    if not _EMAIL.match(email):
        raise BadRequest("email is not valid")
    if len(password) < 8:
        raise BadRequest("password must have at least 8 characters")
    try:
        with db.atomic():
            return TenantScope(tenant_id).create(
                Agent,
                id=new_id(),
                email=email.lower(),
                name=name or email.split("@")[0],
                password_hash=hash_password(password),
                role=role.value,
                capacity=capacity,
            )
    except pw.IntegrityError:
        raise Conflict(f"agent {email} exists", code=ErrorCode.BAD_REQUEST) from None


@dataclass(frozen=True)
class ApiKeyCredentials:
    key: str
    secret: str


def create_api_key(tenant_id: str, name: str = "") -> ApiKeyCredentials:
    get_tenant(tenant_id)
    key = ApiKeyCredentials("key_" + secrets.token_hex(10), new_secret(32))
    TenantScope(tenant_id).create(
        ApiKey, id=key.key, name=name, secret=key.secret, role=Role.ADMIN.value
    )
    return key


def site_summary(site: Site) -> dict[str, Any]:
    return {
        "site_key": site.id,
        "site_secret": site.secret,
        "name": site.name,
        "origins": json.loads(site.allowed_origins),
    }


def tenant_summary(tenant_id: str) -> dict[str, Any]:
    """The tenant, its sites (keys, no secrets) and its enabled admins' e-mail addresses."""
    tenant = get_tenant(tenant_id)
    scope = TenantScope(tenant_id)
    sites = [
        {"site_key": s.id, "name": s.name, "origins": json.loads(s.allowed_origins)}
        for s in scope.select(Site).order_by(Site.id)
    ]
    admins = [
        a.email
        for a in scope.select(Agent)
        .where(
            Agent.role == Role.ADMIN.value,
            Agent.disabled == False,  # noqa: E712 - SQL
        )
        .order_by(Agent.email)
    ]
    return {"tenant": tenant.id, "name": tenant.name, "sites": sites, "admins": admins}
