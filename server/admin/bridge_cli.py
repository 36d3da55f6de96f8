"""What ``steadydesk bridge ...`` does, as the command line (``system:cli`` in the audit
log). Revoking here writes the database only: every node's bridge watch closes the
bridge's sockets within half a second (docs/bridges.md)."""

from __future__ import annotations

from typing import Any

from server.admin.bridge_links import issue_link_code_by_email
from server.admin.bridges import cli_actor, do_create_bridge, do_revoke_bridge, list_bridges
from server.admin.provisioning import get_tenant
from server.errors import NotFound
from server.storage.guard import cross_tenant
from server.storage.models import Bridge


def create(tenant_id: str, kind: str, name: str, departments: list[str]) -> dict[str, Any]:
    get_tenant(tenant_id)
    fields = {"kind": kind, "name": name, "departments": departments}
    return do_create_bridge(cli_actor(tenant_id), fields, "")


def listing(tenant_id: str) -> list[dict[str, Any]]:
    get_tenant(tenant_id)
    return list_bridges(cli_actor(tenant_id))


def revoke(bridge_id: str, tenant_id: str | None) -> dict[str, Any]:
    if tenant_id is None:
        # The operator names the bridge by its id: that id is what tells us its tenant.
        with cross_tenant():
            bridge = Bridge.select(Bridge.tenant_id).where(Bridge.id == bridge_id[:26]).first()
        if bridge is None:
            raise NotFound(f"no bridge {bridge_id}")
        tenant_id = str(bridge.tenant_id)
    get_tenant(tenant_id)
    return do_revoke_bridge(cli_actor(tenant_id), bridge_id, "")


def link_code(tenant_id: str, email: str, ttl_secs: int) -> dict[str, str]:
    get_tenant(tenant_id)
    return issue_link_code_by_email(tenant_id, email, ttl_secs)
