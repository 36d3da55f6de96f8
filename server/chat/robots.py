"""The AI robot as an actor (docs/bridges.md, "Kind ai").

An ``ai`` bridge's connection is a bridge actor with role ``ai``; each of its acting
frames runs as ``robot_actor``: sender type ``ai``, the bridge's id and name (its display
name in the tenant), the bridge's departments as its scope. It never acts as an agent.
"""

from __future__ import annotations

from server.kernel.actors import Actor, ConversationRef
from server.kernel.enums import ROBOT_ASSIGNEE, ROBOT_ROLE, ConversationStatus, SenderType
from server.storage.guard import TenantScope
from server.storage.models import Agent, Bridge, Conversation

# What a robot may send on /ws/agent besides its own sync and ping; accept is a person's.
ROBOT_FRAMES = frozenset({"send", "typing", "read", "close", "transfer"})


def is_robot(actor: Actor) -> bool:
    """An ``ai`` bridge's own connection, or the robot acting through it."""
    return actor.role == ROBOT_ROLE and actor.type in (SenderType.BRIDGE, SenderType.AI)


def robot_actor(bridge: Actor) -> Actor:
    return Actor(
        SenderType.AI,
        bridge.id,
        bridge.tenant_id,
        bridge.name,
        role=ROBOT_ROLE,
        departments=bridge.departments,
        user_agent=bridge.user_agent,
    )


def robot_wire(bridge_id: str, name: str) -> dict[str, str]:
    return {"type": SenderType.AI.value, "id": bridge_id, "name": name}


def held_by(ref: ConversationRef, robot_id: str) -> bool:
    """Whether this robot holds the open conversation now (read from the database)."""
    row = (
        TenantScope(ref.tenant_id)
        .select(Conversation, Conversation.status, Conversation.assignee_id)
        .where(
            Conversation.id == ref.id,
            Conversation.assignee_type == ROBOT_ASSIGNEE,
            Conversation.status == ConversationStatus.ACTIVE.value,
        )
        .tuples()
        .first()
    )
    return row is not None and row[1] == robot_id


def assignee_cards(scope: TenantScope, rows: list[Conversation]) -> dict[str, dict[str, str]]:
    """Each row's assignee as lists show it: ``{"type", "id", "name"}``; a robot holding a
    conversation shows as ``ai`` with the bridge's name (the console says "with X (AI)")."""
    people = {r.assignee_id for r in rows if r.assignee_id and r.assignee_type != ROBOT_ASSIGNEE}
    robots = {r.assignee_id for r in rows if r.assignee_id and r.assignee_type == ROBOT_ASSIGNEE}
    cards: dict[str, dict[str, str]] = {}
    if people:
        for agent in scope.select(Agent, Agent.id, Agent.name).where(Agent.id.in_(people)):
            cards[agent.id] = {"type": SenderType.AGENT.value, "id": agent.id, "name": agent.name}
    if robots:
        for bridge in scope.select(Bridge, Bridge.id, Bridge.name).where(Bridge.id.in_(robots)):
            cards[bridge.id] = robot_wire(bridge.id, bridge.name)
    return {r.id: cards[r.assignee_id] for r in rows if r.assignee_id in cards}
