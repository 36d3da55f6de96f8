"""The AI robot's report (docs/reports.md, "AI robot"), computed by the database.

Per UTC day: conversations the robot resolved without a person (closed while it held
them: an agent's accept or transfer takes the conversation from it, so these were never
assigned to a person), and hand-offs from the robot to people, by reason. Conversations
count on the day they closed, hand-offs on the day they happened.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from peewee import fn

from server.kernel.actors import Actor
from server.kernel.enums import ROBOT_ASSIGNEE, ConversationStatus, HandoffReason
from server.storage.guard import TenantScope
from server.storage.models import AiHandoff, Conversation

REASONS = [r.value for r in HandoffReason]


def _day(value: Any) -> str:
    return str(value)[:10]


def ai_report(actor: Actor, start: dt.date, end: dt.date) -> dict[str, Any]:
    scope = TenantScope(actor.tenant_id)
    since = dt.datetime.combine(start, dt.time())
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    day = fn.DATE(Conversation.closed_at)
    resolved = (
        scope.select(Conversation, day.alias("day"), fn.COUNT(Conversation.id).alias("n"))
        .where(
            Conversation.status == ConversationStatus.CLOSED.value,
            Conversation.assignee_type == ROBOT_ASSIGNEE,
            Conversation.closed_at >= since,
            Conversation.closed_at < until,
        )
        .group_by(day)
        .tuples()
    )
    handoff_day = fn.DATE(AiHandoff.created_at)
    handoffs = (
        scope.select(AiHandoff, handoff_day.alias("day"), AiHandoff.reason, fn.COUNT(AiHandoff.id))
        .where(AiHandoff.created_at >= since, AiHandoff.created_at < until)
        .group_by(handoff_day, AiHandoff.reason)
        .tuples()
    )
    days: dict[str, dict[str, Any]] = {}

    def row(key: str) -> dict[str, Any]:
        if key not in days:
            days[key] = {"day": key, "resolved_by_ai": 0, "handoffs": dict.fromkeys(REASONS, 0)}
        return days[key]

    for when, count in resolved:
        row(_day(when))["resolved_by_ai"] = int(count)
    for when, reason, count in handoffs:
        by_reason = row(_day(when))["handoffs"]
        by_reason[reason] = by_reason.get(reason, 0) + int(count)
    rows = [days[k] for k in sorted(days)]
    total_handoffs = dict.fromkeys(REASONS, 0)
    for item in rows:
        for reason, count in item["handoffs"].items():
            total_handoffs[reason] = total_handoffs.get(reason, 0) + count
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "rows": rows,
        "total": {
            "resolved_by_ai": sum(item["resolved_by_ai"] for item in rows),
            "handoffs": total_handoffs,
            "handoffs_total": sum(total_handoffs.values()),
        },
    }
