"""Units of work of auto-assignment: blocking queries, run on the store's threads.

An offer is three columns on the conversation (``offered_to``, ``offered_at``,
``offer_deadline_ms``) and a counter, ``offer_seq``. Every offer, re-offer or withdrawal
is one UPDATE conditional on the ``offer_seq`` that was read: when two nodes' sweeps see
the same expired offer, exactly one UPDATE matches and only that node announces it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import peewee as pw

from server.kernel.enums import ConversationStatus, RoutingPolicy
from server.routing.policy import AUTO_POLICIES, Candidate, OfferPicker
from server.storage.database import db
from server.storage.guard import TenantScope, cross_tenant
from server.storage.models import Agent, AgentDepartment, Conversation, Department, Setting, utcnow
from server.times import iso_ms

DEFAULT_ROUTING_KEY = "routing.default"
DEFAULT_OFFER_TIMEOUT_SECS = 30
TRIED_KEPT = 20  # offers_tried remembers this many recent offerees
WAITING_BATCH = 50
SWEEP_BATCH = 100
QUEUED = ConversationStatus.QUEUED.value

_picker = OfferPicker()


@dataclass(frozen=True)
class Routing:
    policy: str
    offer_timeout_secs: int

    def to_json(self) -> dict[str, object]:
        return {"policy": self.policy, "offer_timeout_secs": self.offer_timeout_secs}


@dataclass(frozen=True)
class OfferChange:
    """What one committed offer UPDATE did: who has the offer now, who lost it."""

    tenant_id: str
    conv: str
    department: str | None
    agent_id: str | None  # None: withdrawn, nobody can take it now
    agent_name: str
    previous: str | None
    timeout_secs: int
    expires_at: str | None
    offer_seq: int  # numbers the offers of one conversation: 1, 2, 3, ...


def default_routing(scope: TenantScope) -> Routing:
    """The tenant's policy for conversations without a department (a setting)."""
    row = scope.get_or_none(Setting, Setting.key == DEFAULT_ROUTING_KEY)
    data = json.loads(row.value) if row else {}
    return Routing(
        data.get("policy", RoutingPolicy.MANUAL.value),
        int(data.get("offer_timeout_secs", DEFAULT_OFFER_TIMEOUT_SECS)),
    )


def routing_of(scope: TenantScope, department_id: str | None) -> Routing:
    if department_id is not None:
        department = scope.get_or_none(Department, Department.id == department_id)
        if department is not None:
            return Routing(department.policy, int(department.offer_timeout_secs))
    return default_routing(scope)


def enabled_agent_ids(tenant_id: str) -> list[str]:
    scope = TenantScope(tenant_id)
    query = scope.select(Agent, Agent.id).where(Agent.disabled == False)  # noqa: E712
    return [agent_id for (agent_id,) in query.tuples()]


def candidates(
    scope: TenantScope, conv: str, connected: frozenset[str] | None = None
) -> list[Candidate]:
    """Every enabled agent with its open load: assigned chats plus offers held elsewhere.
    ``connected``: the agents with an open connection (None when presence is unknown)."""
    agents = list(scope.select(Agent).where(Agent.disabled == False))  # noqa: E712
    load: dict[str, int] = {}
    assigned = (
        scope.select(Conversation, Conversation.assignee_id, pw.fn.COUNT(Conversation.id))
        .where(Conversation.status == ConversationStatus.ACTIVE.value)
        .group_by(Conversation.assignee_id)
        .tuples()
    )
    offered = (
        scope.select(Conversation, Conversation.offered_to, pw.fn.COUNT(Conversation.id))
        .where(
            Conversation.status == QUEUED,
            Conversation.offered_to.is_null(False),
            Conversation.id != conv,
        )
        .group_by(Conversation.offered_to)
        .tuples()
    )
    for agent_id, count in [*assigned, *offered]:
        if agent_id:
            load[agent_id] = load.get(agent_id, 0) + int(count)
    departments: dict[str, set[str]] = {}
    for agent_id, department_id in scope.select(
        AgentDepartment, AgentDepartment.agent_id, AgentDepartment.department_id
    ).tuples():
        departments.setdefault(agent_id, set()).add(department_id)
    return [
        Candidate(
            a.id,
            a.status,
            int(a.capacity),
            load.get(a.id, 0),
            frozenset(departments.get(a.id, ())),
            a.last_offered_ms,
            connected=connected is None or a.id in connected,
        )
        for a in agents
    ]


def make_offer(
    tenant_id: str,
    conv: str,
    now_ms: int,
    *,
    expired: bool,
    connected: frozenset[str] | None = None,
) -> OfferChange | None:
    """Offer a waiting conversation to the next agent, or take an expired offer over.

    ``expired=False``: only a conversation nobody holds an offer for. ``expired=True``:
    only one whose offer ran out. None when there was nothing to do or another node
    did it first.
    """
    scope = TenantScope(tenant_id)
    row = scope.get_or_none(Conversation, Conversation.id == conv)
    if row is None or row.status != QUEUED or not row.last_seq:
        return None
    if expired:
        if row.offer_deadline_ms is None or row.offer_deadline_ms > now_ms:
            return None
    elif row.offered_to is not None:
        return None
    routing = routing_of(scope, row.department_id)
    agent_id = None
    if routing.policy in AUTO_POLICIES:
        tried = [t for t in row.offers_tried.split(",") if t]
        pool = candidates(scope, conv, connected)
        agent_id = _picker.pick(routing.policy, row.department_id, pool, tried)
    if agent_id is None and row.offered_to is None and row.offer_deadline_ms is None:
        return None  # nothing offered, nothing to offer
    values: dict[str, object] = {"offer_seq": row.offer_seq + 1}
    expires_at = None
    if agent_id is None:
        values.update(offered_to=None, offer_deadline_ms=None)
    else:
        deadline_ms = now_ms + routing.offer_timeout_secs * 1000
        tried_now = [t for t in row.offers_tried.split(",") if t] + [agent_id]
        values.update(
            offered_to=agent_id,
            offered_at=utcnow(),
            offer_deadline_ms=deadline_ms,
            offers_tried=",".join(tried_now[-TRIED_KEPT:]),
        )
        expires_at = iso_ms(deadline_ms)
    with db.atomic():
        won = (
            scope.update(Conversation, **values)
            .where(
                Conversation.id == conv,
                Conversation.status == QUEUED,
                Conversation.offer_seq == row.offer_seq,
            )
            .execute()
        )
        if won and agent_id is not None:
            scope.update(Agent, last_offered_ms=now_ms).where(Agent.id == agent_id).execute()
    if not won:
        return None
    name = ""
    if agent_id is not None:
        agent = scope.get_or_none(Agent, Agent.id == agent_id)
        name = agent.name if agent else ""
    return OfferChange(
        tenant_id,
        conv,
        row.department_id,
        agent_id,
        name,
        row.offered_to,
        routing.offer_timeout_secs,
        expires_at,
        row.offer_seq + 1,
    )


def _auto_routed(scope: TenantScope, query: Any, auto_default: bool) -> Any:
    """Only conversations an automatic policy routes: in a round-robin or least-loaded
    department, or without a department when the tenant's default is automatic. Manual
    queues never take a place in the batch (they would starve automatic ones)."""
    in_auto_department = Conversation.department_id.in_(
        scope.select(Department, Department.id).where(Department.policy.in_(list(AUTO_POLICIES)))
    )
    if auto_default:
        return query.where(in_auto_department | Conversation.department_id.is_null())
    return query.where(in_auto_department)


def offer_waiting(
    tenant_id: str, now_ms: int, connected: frozenset[str] | None = None
) -> list[OfferChange]:
    """Offer every automatically routed conversation of the tenant that nobody holds an
    offer for, oldest first: an agent came online or freed capacity."""
    scope = TenantScope(tenant_id)
    waiting = _auto_routed(
        scope,
        scope.select(Conversation, Conversation.id).where(
            Conversation.status == QUEUED,
            Conversation.last_seq > 0,
            Conversation.offered_to.is_null(),
        ),
        default_routing(scope).policy in AUTO_POLICIES,
    )
    changes = []
    for (conv,) in list(waiting.order_by(Conversation.created_at).limit(WAITING_BATCH).tuples()):
        change = make_offer(tenant_id, conv, now_ms, expired=False, connected=connected)
        if change is not None:
            changes.append(change)
    return changes


def stranded_tenants(older_than: dt.datetime) -> list[str]:
    """Tenants with an automatically routed conversation that has waited since before
    ``older_than`` with no offer ever made: its node died between the first message's
    commit and the offer, or nobody could take it then. Cross-tenant, for the sweep."""
    with cross_tenant():
        auto_default = [
            row.tenant_id
            for row in Setting.select(Setting.tenant_id, Setting.value).where(
                Setting.key == DEFAULT_ROUTING_KEY
            )
            if json.loads(row.value or "{}").get("policy") in AUTO_POLICIES
        ]
        in_auto_department = Conversation.department_id.in_(
            Department.select(Department.id).where(Department.policy.in_(list(AUTO_POLICIES)))
        )
        routed = in_auto_department
        if auto_default:
            routed = routed | (
                Conversation.department_id.is_null() & Conversation.tenant_id.in_(auto_default)
            )
        rows: Any = (
            Conversation.select(Conversation.tenant_id)
            .where(
                Conversation.status == QUEUED,
                Conversation.last_seq > 0,
                Conversation.offered_to.is_null(),
                Conversation.offer_deadline_ms.is_null(),
                Conversation.created_at < older_than,
                routed,
            )
            .distinct()
            .limit(SWEEP_BATCH)
            .tuples()
        )
        return [tenant for (tenant,) in rows]


def expire_offers_of(scope: TenantScope, agent_id: str, now_ms: int) -> int:
    """End the offers an agent holds (it went away): the sweep re-offers them."""
    changed: int = (
        scope.update(Conversation, offer_deadline_ms=now_ms)
        .where(
            Conversation.offered_to == agent_id,
            Conversation.status == QUEUED,
            Conversation.offer_deadline_ms > now_ms,
        )
        .execute()
    )
    return changed


def expired_offers(now_ms: int) -> list[tuple[str, str]]:
    """(tenant, conversation) of every offer past its deadline, on any tenant.

    Deliberately cross-tenant: the sweep serves the whole node. Each take-over then runs
    in the conversation's own tenant scope.
    """
    with cross_tenant():
        rows: Any = (
            Conversation.select(Conversation.tenant_id, Conversation.id)
            .where(
                Conversation.offer_deadline_ms <= now_ms,
                Conversation.status == QUEUED,
            )
            .limit(SWEEP_BATCH)
            .tuples()
        )
        return [(tenant, conv) for tenant, conv in rows]
