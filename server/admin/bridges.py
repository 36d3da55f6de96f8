"""Bridge principals (docs/bridges.md): create, list, revoke; their tokens; whom they act as.

A bridge is a process that mirrors a tenant's conversations into Slack or Telegram. Its
token is shown once, by ``do_create_bridge``, and stored as a SHA-256 hash (256 random
bits need no slow hash). Every use looks the bridge up afresh, so a revoked token fails at
the next request or ``hello``; ``publish_bridge_revoked`` closes the bridge's open sockets
on every node (4401), and each node's bridge watch catches a revocation made elsewhere (the
CLI, which has no bus of its own) within half a second.

A Slack or Telegram bridge acts only as agents linked to it (``acting_agent``), never as
itself; an ``ai`` bridge (the AI robot) acts only as itself (server/chat/robots.py).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.bus import Bus
from server.bus.signals import Signal, signal
from server.errors import BadRequest, ErrorCode, Forbidden, NotFound, Unauthorized
from server.foundation import audit
from server.foundation.tx import admin_transaction
from server.foundation.validation import iso, parse
from server.ids import new_id
from server.kernel import topics
from server.kernel.actors import Actor
from server.kernel.enums import ROBOT_ROLE, BridgeKind, SenderType
from server.storage.database import Store
from server.storage.guard import TenantScope, cross_tenant
from server.storage.models import Agent, Bridge, BridgeLink, Department, Tenant, utcnow

TOKEN_PREFIX = "sdb_"  # tells a bridge token from a JWT at a glance (and to secret scanners)
TOKEN_BYTES = 32
TOKEN_MAX_CHARS = 200
MAX_DEPARTMENTS = 50
CLI_ACTOR_ID = "cli"


class BridgeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: BridgeKind
    name: str = Field(min_length=1, max_length=200)
    departments: list[str] = Field(default_factory=list, max_length=MAX_DEPARTMENTS)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value


def cli_actor(tenant_id: str) -> Actor:
    """Who the command line is in the audit log (``system:cli``)."""
    return Actor(SenderType.SYSTEM, CLI_ACTOR_ID, tenant_id, "command line")


def is_bridge_token(token: object) -> bool:
    return isinstance(token, str) and token.startswith(TOKEN_PREFIX)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def departments_of(bridge: Bridge) -> list[str]:
    return list(json.loads(bridge.departments or "[]"))


def bridge_view(bridge: Bridge) -> dict[str, Any]:
    return {
        "id": bridge.id,
        "kind": bridge.kind,
        "name": bridge.name,
        "departments": departments_of(bridge),
        "created_at": iso(bridge.created_at),
        "revoked_at": iso(bridge.revoked_at),
    }


def bridge_actor(token: object) -> Actor:
    """The bridge a token belongs to; 401 (``bad_token``) for an unknown or revoked one."""
    if not is_bridge_token(token) or len(str(token)) > TOKEN_MAX_CHARS:
        raise Unauthorized("invalid bridge token", code=ErrorCode.BAD_TOKEN)
    # The token is what tells us the tenant: this lookup is the one place it is found.
    with cross_tenant():
        bridge = Bridge.select().where(Bridge.token_hash == token_hash(str(token))).first()
    if bridge is None or bridge.revoked_at is not None:
        raise Unauthorized("unknown or revoked bridge token", code=ErrorCode.BAD_TOKEN)
    departments = departments_of(bridge)
    return Actor(
        SenderType.BRIDGE,
        bridge.id,
        bridge.tenant_id,
        bridge.name,
        # An AI bridge's connection acts as itself (server/chat/robots.py): its role says so.
        role=ROBOT_ROLE if bridge.kind == BridgeKind.AI.value else SenderType.BRIDGE.value,
        departments=frozenset(departments) if departments else None,
    )


def bridge_profile(actor: Actor) -> dict[str, Any]:
    """A bridge's ``welcome.you`` and ``GET /api/v1/me``."""
    bridge = TenantScope(actor.tenant_id).get_or_none(Bridge, Bridge.id == actor.id)
    if bridge is None or bridge.revoked_at is not None:
        raise Unauthorized("unknown or revoked bridge token", code=ErrorCode.BAD_TOKEN)
    return {
        "type": "bridge",
        "id": bridge.id,
        "name": bridge.name,
        "kind": bridge.kind,
        "tenant": bridge.tenant_id,
        "departments": departments_of(bridge),
    }


def access_bridge(scope: TenantScope, bridge_id: str) -> Bridge:
    """The tenant's bridge; another tenant's is as unknown as a made-up id."""
    bridge = scope.get_or_none(Bridge, Bridge.id == bridge_id[:26])
    if bridge is None:
        raise NotFound("no such bridge")
    return bridge


def list_bridges(actor: Actor) -> list[dict[str, Any]]:
    scope = TenantScope(actor.tenant_id)
    return [bridge_view(b) for b in scope.select(Bridge).order_by(Bridge.created_at, Bridge.id)]


def do_create_bridge(actor: Actor, fields: object, ip: str) -> dict[str, Any]:
    """A new bridge and its token (shown this once): ``{"bridge_id", "token", ...view}``."""
    data = parse(BridgeCreate, fields)
    scope = TenantScope(actor.tenant_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    departments = sorted(set(data.departments))
    with admin_transaction():
        if Tenant.get_or_none(Tenant.id == actor.tenant_id) is None:
            raise NotFound(f"no tenant {actor.tenant_id}")
        if departments:
            known = {d.id for d in scope.select(Department).where(Department.id.in_(departments))}
            missing = [d for d in departments if d not in known]
            if missing:
                raise BadRequest(f"unknown departments: {', '.join(missing)}")
        bridge = scope.create(
            Bridge,
            id=new_id(),
            kind=data.kind.value,
            name=data.name,
            token_hash=token_hash(token),
            departments=json.dumps(departments),
        )
        audit.record(
            actor,
            "bridge.create",
            bridge.id,
            {"kind": data.kind.value, "name": data.name, "departments": departments},
            ip,
        )
    return {**bridge_view(bridge), "bridge_id": bridge.id, "token": token}


def do_revoke_bridge(actor: Actor, bridge_id: str, ip: str) -> dict[str, Any]:
    """Revoke a bridge (idempotent). Callers then close its sockets: ``revoke_bridge``."""
    scope = TenantScope(actor.tenant_id)
    with admin_transaction():
        bridge = access_bridge(scope, bridge_id)
        changed = bridge.revoked_at is None
        if changed:
            scope.update(Bridge, revoked_at=utcnow()).where(Bridge.id == bridge.id).execute()
        audit.record(actor, "bridge.revoke", bridge.id, {"name": bridge.name}, ip)
        return bridge_view(access_bridge(scope, bridge.id))


def revoked_among(bridge_ids: list[str]) -> set[str]:
    """Which of these bridges are revoked or gone (each node's watch over its sockets)."""
    if not bridge_ids:
        return set()
    with cross_tenant():  # a node's sockets span tenants; ids are what it has
        live = {
            bridge.id
            for bridge in Bridge.select(Bridge.id).where(
                Bridge.id.in_(bridge_ids), Bridge.revoked_at.is_null()
            )
        }
    return set(bridge_ids) - live


def acting_agent(bridge: Actor, agent_id: object) -> Actor:
    """The agent a bridge acts as (``as``): enabled, of the bridge's tenant, linked to it.

    The result carries the bridge (``via``, for the audit log) and its scope, so every
    access check on the action applies the bridge's departments too.
    """
    if bridge.role == ROBOT_ROLE:
        raise Forbidden("an ai bridge acts as itself: as is not allowed")
    if not isinstance(agent_id, str) or not agent_id:
        raise Forbidden("a bridge acts as a linked agent: name the agent's id in as")
    tenant = bridge.tenant_id
    # One query per acting frame: the agent, through a link of this bridge, and the bridge.
    row = (
        Agent.select(Agent.id, Agent.name, Agent.role, Agent.disabled, Bridge.revoked_at)
        .join(BridgeLink, on=(BridgeLink.agent_id == Agent.id))
        .join(Bridge, on=(Bridge.id == BridgeLink.bridge_id))
        .where(
            Agent.tenant_id == tenant,
            BridgeLink.tenant_id == tenant,
            Bridge.tenant_id == tenant,
            BridgeLink.bridge_id == bridge.id,
            Agent.id == agent_id[:26],
        )
        .objects()
        .first()
    )
    if row is None:
        raise Forbidden("this agent is not linked to this bridge")
    if row.revoked_at is not None:
        raise Forbidden("this bridge is revoked")
    if row.disabled:
        raise Forbidden("this agent is disabled")
    return Actor(
        SenderType.AGENT,
        row.id,
        tenant,
        row.name,
        role=row.role,
        via=bridge.id,
        departments=bridge.departments,
        user_agent=bridge.user_agent,
        via_name=bridge.name,
    )


def publish_bridge_revoked(bus: Bus, bridge_id: str) -> None:
    """Close the bridge's WebSockets on every node (after the commit: callers run it then)."""
    bus.publish(topics.bridge(bridge_id), signal(Signal.BRIDGE_REVOKED, {"bridge": bridge_id}))


async def revoke_bridge(
    store: Store, bus: Bus, actor: Actor, bridge_id: str, ip: str
) -> dict[str, Any]:
    view = await store.run(do_revoke_bridge, actor, bridge_id, ip)
    publish_bridge_revoked(bus, view["id"])
    return view
