"""One conversation as an agent sees it: its state, its visitor's context, its labels."""

from __future__ import annotations

from typing import Any

from server.chat.labels import access_conversation_row, conversation_labels
from server.chat.rating import rating_data
from server.chat.robots import assignee_cards
from server.chat.visitors import PAGES_IN_REST, visitor_context
from server.errors import NotFound
from server.kernel.actors import Actor
from server.storage.guard import TenantScope
from server.storage.models import Visitor
from server.times import iso_time


def _iso(value: Any) -> str | None:
    return iso_time(value)


def conversation_detail(actor: Actor, conv: str) -> dict[str, Any]:
    scope = TenantScope(actor.tenant_id)
    row = access_conversation_row(scope, conv)
    if not actor.in_scope(row.department_id):  # a bridge narrowed to departments
        raise NotFound("no such conversation")
    visitor = scope.get_or_none(Visitor, Visitor.id == row.visitor_id)
    assignee = assignee_cards(scope, [row]).get(row.id)
    return {
        "id": row.id,
        "status": row.status,
        "assignee": assignee,
        "department": row.department_id,
        "site": row.site_id,
        "last_seq": row.last_seq,
        "agent_read_seq": row.agent_read_seq,
        "visitor_read_seq": row.visitor_read_seq,
        "created_at": _iso(row.created_at),
        "assigned_at": _iso(row.assigned_at),
        "closed_at": _iso(row.closed_at),
        "previous": row.previous_id,
        "labels": conversation_labels(scope, row.id),  # read after the row: see labels.py
        "labels_version": row.labels_version,
        "rating": rating_data(row),
        "visitor": (
            visitor_context(scope, visitor, current=row.id, pages=PAGES_IN_REST)
            if visitor
            else None
        ),
    }
