"""Read models for agents: conversation lists and cards. One query per list, no N+1."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.chat.queries import MESSAGE_COLUMNS
from server.chat.rating import rating_data
from server.chat.records import StoredMessage
from server.chat.rendered import RENDERED
from server.chat.robots import assignee_cards
from server.chat.visitors import visitor_card
from server.errors import BadRequest
from server.kernel.actors import Actor
from server.kernel.enums import ConversationStatus, MessageKind, Role, SenderType
from server.storage.guard import TenantScope
from server.storage.models import (
    Agent,
    AgentDepartment,
    Conversation,
    ConversationLabel,
    Department,
    Message,
    Visitor,
)
from server.times import iso_time

LIST_MAX = 200
STATUS_FILTERS = {"queued", "active", "closed", "open"}
ORDERS = {"newest", "oldest"}


@dataclass(frozen=True)
class ConversationPage:
    """One page of a conversation list: the cards, how many match in all, where to go on."""

    cards: list[dict[str, Any]]
    total: int
    next_cursor: str | None


def _encode_cursor(row: Conversation) -> str:
    raw = f"{row.created_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, conv = raw.split("|", 1)
        return datetime.fromisoformat(when), conv
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("cursor is not one this server gave out") from None


def list_conversations(
    actor: Actor, status: str | None, assignee: str | None, limit: int, offline: bool | None = None
) -> list[dict[str, Any]]:
    """The newest ``limit`` cards (the first page of :func:`page_conversations`)."""
    return page_conversations(actor, status, assignee, limit, offline).cards


def page_conversations(
    actor: Actor,
    status: str | None,
    assignee: str | None,
    limit: int,
    offline: bool | None = None,
    *,
    order: str = "newest",
    cursor: str | None = None,
) -> ConversationPage:
    """A page of cards in ``order`` (by creation, then id), after ``cursor``, with the
    total that match the filters (whatever the page)."""
    if status is not None and status not in STATUS_FILTERS:
        raise BadRequest("status must be queued, active, closed or open")
    if order not in ORDERS:
        raise BadRequest("order must be newest or oldest")
    scope = TenantScope(actor.tenant_id)
    query = scope.select(Conversation)
    if actor.departments is not None:  # a bridge narrowed to departments
        query = query.where(Conversation.department_id.in_(sorted(actor.departments)))
    if status == "open":
        query = query.where(Conversation.status != ConversationStatus.CLOSED.value)
    elif status:
        query = query.where(Conversation.status == status)
    if status == "queued" and _serves_departments(actor):
        query = query.where(_may_serve(scope, actor.id))
    if offline is not None:  # started outside hours or with nobody online
        query = query.where(Conversation.offline == offline)
    if assignee:
        query = query.where(
            Conversation.assignee_id == (actor.id if assignee == "me" else assignee)
        )
    total = query.count()
    oldest = order == "oldest"
    if cursor:
        when, conv = _decode_cursor(cursor)
        if oldest:
            after = (Conversation.created_at > when) | (
                (Conversation.created_at == when) & (Conversation.id > conv)
            )
        else:
            after = (Conversation.created_at < when) | (
                (Conversation.created_at == when) & (Conversation.id < conv)
            )
        query = query.where(after)
    keys = (
        (Conversation.created_at, Conversation.id)
        if oldest
        else (Conversation.created_at.desc(), Conversation.id.desc())
    )
    size = max(1, min(limit, LIST_MAX))
    rows = list(query.order_by(*keys).limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = _encode_cursor(rows[-1]) if more else None
    return ConversationPage(_cards(scope, rows), total, next_cursor)


def _serves_departments(actor: Actor) -> bool:
    """A person at the desk (not an admin, an API key or a bridge) whose queue is the
    conversations it may serve: the same ones its queue events and summary cover."""
    return (
        actor.type is SenderType.AGENT
        and actor.role == Role.AGENT.value
        and not actor.api_key
        and actor.via is None
    )


def _may_serve(scope: TenantScope, agent_id: str) -> Any:
    """As ``Candidate.serves`` (server/routing/policy.py): without a department, of a
    department nobody is a member of, or of one of the agent's departments."""
    staffed = scope.select(AgentDepartment, AgentDepartment.department_id)
    mine = scope.select(AgentDepartment, AgentDepartment.department_id).where(
        AgentDepartment.agent_id == agent_id
    )
    return (
        Conversation.department_id.is_null()
        | Conversation.department_id.not_in(staffed)
        | Conversation.department_id.in_(mine)
    )


def _cards(scope: TenantScope, rows: list[Conversation]) -> list[dict[str, Any]]:
    if not rows:
        return []
    visitors = {
        v.id: v for v in scope.select(Visitor).where(Visitor.id.in_({r.visitor_id for r in rows}))
    }
    assignees = assignee_cards(scope, rows)
    last = _last_messages(scope, [r for r in rows if r.last_seq])
    labels = _labels(scope, [r.id for r in rows])
    return [
        {
            "id": row.id,
            "status": row.status,
            "assignee": assignees.get(row.id),
            "department": row.department_id,
            "visitor": visitor_card(visitors.get(row.visitor_id)),
            "last_seq": row.last_seq,
            "agent_read_seq": row.agent_read_seq,
            "visitor_read_seq": row.visitor_read_seq,
            "created_at": _iso(row.created_at),
            "closed_at": _iso(row.closed_at),
            "previous": row.previous_id,
            "offline": bool(row.offline),
            "offered_to": row.offered_to if row.status == ConversationStatus.QUEUED.value else None,
            "last_message": last[row.id].wire() if row.id in last else None,
            "rating": rating_data(row),
            "labels": labels.get(row.id, []),  # read after the rows: never older
            "labels_version": row.labels_version,
        }
        for row in rows
    ]


def _labels(scope: TenantScope, convs: list[str]) -> dict[str, list[str]]:
    """Each card's labels, sorted: one query for the page (the console shows them)."""
    found: dict[str, list[str]] = {}
    rows = (
        scope.select(ConversationLabel, ConversationLabel.conversation_id, ConversationLabel.label)
        .where(ConversationLabel.conversation_id.in_(convs))
        .order_by(ConversationLabel.conversation_id, ConversationLabel.label)
        .tuples()
    )
    for conv, label in rows:
        found.setdefault(conv, []).append(label)
    return found


def _last_messages(scope: TenantScope, rows: list[Conversation]) -> dict[str, StoredMessage]:
    """The newest visible message of each conversation, read by primary key."""
    if not rows:
        return {}
    wanted = {(row.id, row.last_seq) for row in rows}
    query = scope.select(Message, *MESSAGE_COLUMNS).where(
        Message.conversation_id.in_({conv for conv, _ in wanted}),
        Message.seq.in_({seq for _, seq in wanted}),
        Message.kind != MessageKind.NOTE.value,
    )
    found: dict[str, StoredMessage] = {}
    for values in query.tuples():
        message = StoredMessage.from_row(values)
        if (message.conv, message.seq) in wanted:
            RENDERED.fill(message)
            found[message.conv] = message
    return found


def list_agents(actor: Actor) -> list[dict[str, Any]]:
    scope = TenantScope(actor.tenant_id)
    return [
        {"id": a.id, "name": a.name, "email": a.email, "role": a.role, "status": a.status}
        for a in scope.select(Agent).where(Agent.disabled == False).order_by(Agent.name)  # noqa: E712
    ]


def list_departments(actor: Actor) -> list[dict[str, str]]:
    scope = TenantScope(actor.tenant_id)
    rows = scope.select(Department).order_by(Department.name)
    return [{"id": d.id, "name": d.name} for d in rows]


def _iso(value: Any) -> str | None:
    return iso_time(value)
