"""``steadydesk demo``: a tenant with a site, an admin, two agents and an API key.

Idempotent: a second run finds the same tenant and hands out working credentials again
(passwords are reset to the printed ones, the API key is reused). The database keeps no
password: the printed logins live in ``<data dir>/demo-logins.json`` (0600, see
``demo_logins``), and the API secret is read from its key's row (sealed at rest when
encryption is on).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from server.admin.demo_logins import locked_logins
from server.admin.provisioning import create_agent, create_api_key, create_site, create_tenant
from server.security.passwords import hash_password
from server.storage.database import db
from server.storage.guard import TenantScope
from server.storage.models import Agent, ApiKey, Role, Setting, Site, Tenant

DEMO_SITE_NAME = "Demo site"
CREDENTIALS_KEY = "demo.credentials"  # e-mails and the API key id: nothing secret


def demo_origins(public_url: str) -> list[str]:
    origins = {public_url.rstrip("/")}
    if "127.0.0.1" in public_url:
        origins.add(public_url.replace("127.0.0.1", "localhost").rstrip("/"))
    return sorted(origins)


def ensure_demo(tenant_id: str, public_url: str, data_dir: Path) -> dict[str, Any]:
    with locked_logins(data_dir) as logins, db.atomic():
        return _ensure_demo(tenant_id, public_url, logins)


def _new_people(tenant_id: str) -> dict[str, Any]:
    return {
        "admin": {"email": f"admin@{tenant_id}.demo", "password": secrets.token_urlsafe(9)},
        "agents": [
            {"email": f"agent{i}@{tenant_id}.demo", "password": secrets.token_urlsafe(9)}
            for i in (1, 2)
        ],
    }


def _ensure_demo(tenant_id: str, public_url: str, logins: dict[str, Any]) -> dict[str, Any]:
    scope = TenantScope(tenant_id)
    if Tenant.get_or_none(Tenant.id == tenant_id) is None:
        create_tenant(tenant_id, name=f"{tenant_id} (demo)")
    saved = scope.get_or_none(Setting, Setting.key == CREDENTIALS_KEY)
    creds: dict[str, Any] = json.loads(saved.value) if saved else {}

    site = scope.get_or_none(Site, Site.name == DEMO_SITE_NAME)
    if site is None:
        site = create_site(tenant_id, DEMO_SITE_NAME, demo_origins(public_url))

    # Passwords live in the 0600 file only (migration 6 removed an older release's from
    # the setting); without the file, new ones are set and printed.
    people = logins.get(tenant_id) or _new_people(tenant_id)
    logins[tenant_id] = people
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
