"""The live monitor's snapshot: who browses the tenant's sites now, what waits, who answers.

Who is connected comes from presence (cluster-wide); this reads the rest from the database
for those ids only. Changes after the snapshot arrive on the ``monitor:<tenant>`` topic
(``visitor.online``, ``visitor.offline``, ``visitor.seen``) and on the agents' topic
(``conv.*``, ``agent.status``, ``agent.presence``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import peewee as pw

from server.kernel.actors import Actor
from server.kernel.enums import ConversationStatus
from server.storage.guard import TenantScope
from server.storage.models import Agent, Conversation, Visitor, VisitorPage, utcnow
from server.times import iso_time

# A monitor lists at most this many visitors (the most recently active first) and queued
# conversations; the answer says when more are connected.
VISITORS_SHOWN = 500
QUEUE_SHOWN = 200


def _waited_secs(since: dt.datetime | None, now: dt.datetime) -> int:
    if since is None:
        return 0
    if since.tzinfo is None and now.tzinfo is not None:
        now = now.replace(tzinfo=None)
    return max(0, int((now - since).total_seconds()))


def monitor_snapshot(actor: Actor, connected: set[str]) -> dict[str, Any]:
    """Visitors (of ``connected``), the queue and the agents; call inside ``store.run``."""
    scope = TenantScope(actor.tenant_id)
    now = utcnow()
    visitors = (
        list(
            scope.select(Visitor)
            .where(Visitor.id.in_(sorted(connected)))
            .order_by(Visitor.last_seen_at.desc())
            .limit(VISITORS_SHOWN)
        )
        if connected
        else []
    )
    ids = [v.id for v in visitors]
    latest: dict[str, VisitorPage] = {}
    if ids:
        newest = (
            scope.select(VisitorPage, pw.fn.MAX(VisitorPage.id))
            .where(VisitorPage.visitor_id.in_(ids))
            .group_by(VisitorPage.visitor_id)
        )
        page_ids = [row[0] for row in newest.tuples()]
        if page_ids:
            for page in scope.select(VisitorPage).where(VisitorPage.id.in_(page_ids)):
                latest[page.visitor_id] = page
    open_convs = {
        c.visitor_id: c
        for c in (scope.select(Conversation).where(Conversation.open_key.in_(ids)) if ids else [])
    }
    agents = list(scope.select(Agent).where(Agent.disabled == False).order_by(Agent.name))  # noqa: E712
    names = {a.id: a.name for a in agents}
    return {
        "visitors": [
            _visitor_row(v, latest.get(v.id), open_convs.get(v.id), names) for v in visitors
        ],
        "more_visitors": max(0, len(connected) - len(visitors)),
        "queue": _queue(scope, now),
        "agents": [_agent_row(a, load) for a, load in _loads(scope, agents)],
        "at": iso_time(now),
    }


def _visitor_row(
    visitor: Visitor, page: VisitorPage | None, conv: Conversation | None, names: dict[str, str]
) -> dict[str, Any]:
    return {
        "id": visitor.id,
        "name": visitor.name,
        "url": page.url if page else visitor.page_url,
        "title": page.title if page else "",
        "since": iso_time(page.at if page else visitor.last_seen_at),
        "conv": conv.id if conv else None,
        "conv_status": conv.status if conv else None,
        "agent": (
            {"id": conv.assignee_id, "name": names.get(conv.assignee_id, "")}
            if conv is not None and conv.assignee_id
            else None
        ),
    }


def _queue(scope: TenantScope, now: dt.datetime) -> list[dict[str, Any]]:
    rows = (
        scope.select(
            Conversation,
            Conversation.id,
            Conversation.visitor_id,
            Conversation.department_id,
            Conversation.created_at,
        )
        .where(Conversation.status == ConversationStatus.QUEUED.value, Conversation.last_seq > 0)
        .order_by(Conversation.created_at)
        .limit(QUEUE_SHOWN)
    )
    rows = list(rows)
    visitor_names = (
        {
            v.id: v.name
            for v in scope.select(Visitor, Visitor.id, Visitor.name).where(
                Visitor.id.in_([r.visitor_id for r in rows])
            )
        }
        if rows
        else {}
    )
    return [
        {
            "conv": r.id,
            "visitor": {"id": r.visitor_id, "name": visitor_names.get(r.visitor_id, "")},
            "department": r.department_id,
            "since": iso_time(r.created_at),
            "waited_secs": _waited_secs(r.created_at, now),
        }
        for r in rows
    ]


def _loads(scope: TenantScope, agents: list[Agent]) -> list[tuple[Agent, int]]:
    counts = dict(
        scope.select(Conversation, Conversation.assignee_id, pw.fn.COUNT(Conversation.id))
        .where(Conversation.status == ConversationStatus.ACTIVE.value)
        .group_by(Conversation.assignee_id)
        .tuples()
    )
    return [(a, int(counts.get(a.id, 0))) for a in agents]


def _agent_row(agent: Agent, load: int) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "role": agent.role,
        "status": agent.status,
        "load": load,
        "capacity": agent.capacity,
    }
