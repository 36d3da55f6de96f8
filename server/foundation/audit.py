"""The audit trail: every admin write records who did what to which target, and from where.

Call ``record`` inside the same transaction as the write it describes, so a rolled-back
change leaves no audit row and a committed one always has its row.
"""

from __future__ import annotations

from typing import Any

import orjson

from server.kernel.actors import Actor
from server.kernel.enums import SenderType
from server.storage.guard import TenantScope
from server.storage.models import AuditLog, Bridge

SUMMARY_MAX_CHARS = 4000
USER_AGENT_MAX_CHARS = 500
SECRET_FIELDS = frozenset(
    {"password", "password_hash", "secret", "site_secret", "api_secret", "token", "code"}
)


def actor_label(actor: Actor) -> str:
    """``agent:<id>``, ``apikey:<id>``, ``operator:<id>``, ``bridge:<id>``, or for an agent
    acting through a bridge ``agent:<id> via bridge:<id>``: who acted, as stored."""
    kind = "apikey" if actor.api_key else actor.type.value
    label = f"{kind}:{actor.id}"
    return f"{label} via bridge:{actor.via}" if actor.via else label


def actor_name(actor: Actor) -> str:
    """Who acted, by name: the agent's, API key's, operator's or bridge's name,
    ``<agent> via <bridge>`` for an agent acting through a bridge, ``command line`` for the
    CLI. Kept in the row, so a later rename does not rewrite history."""
    name = actor.name or ("system" if actor.type is SenderType.SYSTEM else actor.id)
    if not actor.via:
        return name
    if actor.via_name:
        return f"{name} via {actor.via_name}"
    bridge = TenantScope(actor.tenant_id).get_or_none(Bridge, Bridge.id == actor.via)
    return f"{name} via {bridge.name if bridge is not None else 'bridge ' + actor.via}"


def redact(changes: dict[str, Any]) -> dict[str, Any]:
    """Secrets are recorded as changed, never with their value."""
    return {k: ("<changed>" if k in SECRET_FIELDS else v) for k, v in changes.items()}


def entry(
    actor: Actor,
    action: str,
    target: str,
    changes: dict[str, Any] | None = None,
    ip: str = "",
) -> dict[str, Any]:
    """The fields of one audit row (without the tenant), for ``record`` or a bulk insert."""
    summary = orjson.dumps(redact(changes or {}), default=str).decode()[:SUMMARY_MAX_CHARS]
    return {
        "actor": actor_label(actor)[:100],
        "actor_name": actor_name(actor)[:200],
        "user_agent": actor.user_agent[:USER_AGENT_MAX_CHARS],
        "action": action[:100],
        "target": target[:200],
        "summary": summary,
        "ip": ip[:45],
    }


def record(
    actor: Actor,
    action: str,
    target: str,
    changes: dict[str, Any] | None = None,
    ip: str = "",
    tenant_id: str | None = None,
) -> None:
    """Write one audit row. ``action`` is dotted (``agent.update``); ``target`` an id."""
    TenantScope(tenant_id or actor.tenant_id).create(
        AuditLog, **entry(actor, action, target, changes, ip)
    )


def in_transaction(
    actor: Actor, action: str, target: str, changes: dict[str, Any] | None = None
) -> None:
    """Audit a bridge's action (an actor with ``audit_ip``) inside the transaction that
    does it: a node killed between the change and its row cannot leave one without the
    other. Call it after the change's last check, so a refused action leaves no row.
    Actors without ``audit_ip`` are not audited here."""
    if actor.audit_ip is not None:
        record(actor, action, target, changes, actor.audit_ip)
