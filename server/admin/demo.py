"""``steadydesk demo``: a tenant with a site, an admin, two agents and an API key.

Idempotent: a second run finds the same tenant and hands out working credentials again
(passwords are reset to the printed ones, the API key is reused).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from server.admin.provisioning import create_agent, create_api_key, create_site, create_tenant
from server.security.passwords import hash_password
from server.storage.database import db
from server.storage.guard import TenantScope
from server.storage.models import Agent, ApiKey, Role, Setting, Site, Tenant

DEMO_SITE_NAME = "Demo site"
_CREDENTIALS_KEY = "demo.credentials"


def demo_origins(public_url: str) -> list[str]:
    origins = {public_url.rstrip("/")}
    if "127.0.0.1" in public_url:
        origins.add(public_url.replace("127.0.0.1", "localhost").rstrip("/"))
    return sorted(origins)


def ensure_demo(tenant_id: str, public_url: str) -> dict[str, Any]:
    with db.atomic():
        return _ensure_demo(tenant_id, public_url)


def _ensure_demo(tenant_id: str, public_url: str) -> dict[str, Any]:
    scope = TenantScope(tenant_id)
    if Tenant.get_or_none(Tenant.id == tenant_id) is None:
        create_tenant(tenant_id, name=f"{tenant_id} (demo)")
    saved = scope.get_or_none(Setting, Setting.key == _CREDENTIALS_KEY)
    creds: dict[str, Any] = json.loads(saved.value) if saved else {}

    site = scope.get_or_none(Site, Site.name == DEMO_SITE_NAME)
    if site is None:
        site = create_site(tenant_id, DEMO_SITE_NAME, demo_origins(public_url))

    people = creds.get("people") or {
        "admin": {"email": f"admin@{tenant_id}.demo", "password": secrets.token_urlsafe(9)},
        "agents": [
            {"email": f"agent{i}@{tenant_id}.demo", "password": secrets.token_urlsafe(9)}
            for i in (1, 2)
        ],
    }
    wanted = [(people["admin"], Role.ADMIN, "Demo Admin")] + [
        (agent, Role.AGENT, f"Demo Agent {i}") for i, agent in enumerate(people["agents"], 1)
    ]
    for person, role, name in wanted:
        existing = scope.get_or_none(Agent, Agent.email == person["email"])
        if existing is None:
            create_agent(tenant_id, person["email"], person["password"], name=name, role=role)
        else:  # make sure the printed password works, and the account is usable
            scope.update(
                Agent, password_hash=hash_password(person["password"]), disabled=False
            ).where(Agent.id == existing.id).execute()

    api = creds.get("api")
    if (
        not api
        or scope.get_or_none(ApiKey, ApiKey.id == api["key"], ApiKey.revoked_at.is_null()) is None
    ):
        key = create_api_key(tenant_id, name="demo")
        api = {"key": key.key, "secret": key.secret}

    stored = json.dumps({"people": people, "api": api})
    if saved:
        scope.update(Setting, value=stored).where(Setting.key == _CREDENTIALS_KEY).execute()
    else:
        scope.create(Setting, key=_CREDENTIALS_KEY, value=stored)

    return {
        "tenant": tenant_id,
        "site_key": site.id,
        "site_secret": site.secret,
        "origin": public_url.rstrip("/"),
        "admin": people["admin"],
        "agents": people["agents"],
        "api_key": api["key"],
        "api_secret": api["secret"],
    }
