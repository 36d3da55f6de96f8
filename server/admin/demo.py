"""``steadydesk demo``: a tenant with a site, an admin, two agents and an API key.

Idempotent: a second run finds the same tenant and hands out working credentials again
(passwords are reset to the printed ones, the API key is reused). The database keeps no
password (issue #11: the demo kept them in a setting that any local user could read):
each demo password is derived from the node's token-signing key, so every run, on every
node sharing that key, prints the same working logins, and whoever could read them from
the key could already forge any token with it. The API secret is read from its key's row
(sealed at rest when encryption is on).
"""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any

from server.admin.provisioning import create_agent, create_api_key, create_site, create_tenant
from server.kernel.enums import Role
from server.security.passwords import hash_password
from server.storage.database import db, is_mysql
from server.storage.guard import TenantScope
from server.storage.models import Agent, ApiKey, Setting, Site, Tenant

DEMO_SITE_NAME = "Demo site"
CREDENTIALS_KEY = "demo.credentials"  # e-mails and the API key id: nothing secret


def demo_site_key(tenant_id: str) -> str | None:
    """The demo site's key, for the page at ``/`` (None until ``steadydesk demo`` ran)."""
    site = TenantScope(tenant_id).get_or_none(Site, Site.name == DEMO_SITE_NAME)
    return site.id if site is not None else None


def demo_origins(public_url: str) -> list[str]:
    origins = {public_url.rstrip("/")}
    if "127.0.0.1" in public_url:
        origins.add(public_url.replace("127.0.0.1", "localhost").rstrip("/"))
    return sorted(origins)


def admit_serving_origins(tenant_id: str, public_url: str) -> list[str]:
    """Let the demo site also be used from where this node serves its demo page; returns
    the origins added. ``demo`` records the address of its time (the configured port), and a
    node then started with ``serve --port P`` showed "Chat is not available on this site" on
    its own page at ``/``. Only the demo site, only ever added to (an admin's other sites
    and the origins already there are left alone). Nodes starting at once each add their
    own: the row is locked from read to write (on SQLite the transaction takes the write
    lock first), else one node's addition overwrote the other's."""
    scope = TenantScope(tenant_id)
    with db.atomic():
        query = scope.select(Site).where(Site.name == DEMO_SITE_NAME)
        site = (query.for_update() if is_mysql() else query).first()
        if site is None:
            return []
        allowed = set(json.loads(site.allowed_origins))
        missing = [origin for origin in demo_origins(public_url) if origin not in allowed]
        if missing:
            scope.update(Site, allowed_origins=json.dumps(sorted(allowed | set(missing)))).where(
                Site.id == site.id
            ).execute()
    return missing


def ensure_demo(tenant_id: str, public_url: str, secret_key: str) -> dict[str, Any]:
    with db.atomic():
        return _ensure_demo(tenant_id, public_url, secret_key)


def demo_password(secret_key: str, tenant_id: str, email: str) -> str:
    digest = hmac.new(
        secret_key.encode(), f"steadydesk demo password\n{tenant_id}\n{email}".encode(), "sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()


def _people(tenant_id: str, secret_key: str) -> dict[str, Any]:
    def person(email: str) -> dict[str, str]:
        return {"email": email, "password": demo_password(secret_key, tenant_id, email)}

    return {
        "admin": person(f"admin@{tenant_id}.demo"),
        "agents": [person(f"agent{i}@{tenant_id}.demo") for i in (1, 2)],
    }


def _ensure_demo(tenant_id: str, public_url: str, secret_key: str) -> dict[str, Any]:
    scope = TenantScope(tenant_id)
    if Tenant.get_or_none(Tenant.id == tenant_id) is None:
        create_tenant(tenant_id, name=f"{tenant_id} (demo)")
    saved = scope.get_or_none(Setting, Setting.key == CREDENTIALS_KEY)
    creds: dict[str, Any] = json.loads(saved.value) if saved else {}

    site = scope.get_or_none(Site, Site.name == DEMO_SITE_NAME)
    if site is None:
        site = create_site(tenant_id, DEMO_SITE_NAME, demo_origins(public_url))

    # Derived, never stored (migration 6 removed an older release's from the setting).
    people = _people(tenant_id, secret_key)
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

    key_id = (creds.get("api") or {}).get("key")
    key = scope.get_or_none(ApiKey, ApiKey.id == key_id, ApiKey.revoked_at.is_null())
    if key is None:
        created = create_api_key(tenant_id, name="demo")
        api = {"key": created.key, "secret": created.secret}
    else:
        api = {"key": key.id, "secret": key.secret}

    stored = json.dumps(
        {
            "people": {
                "admin": {"email": people["admin"]["email"]},
                "agents": [{"email": a["email"]} for a in people["agents"]],
            },
            "api": {"key": api["key"]},
        }
    )
    if saved:
        scope.update(Setting, value=stored).where(Setting.key == CREDENTIALS_KEY).execute()
    else:
        scope.create(Setting, key=CREDENTIALS_KEY, value=stored)

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
