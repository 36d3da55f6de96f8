"""Conversation reports, computed by the database (GROUP BY and aggregates), never by
loading conversations or messages into Python.

Per bucket (a UTC day of the conversation's creation, its assigned agent, or its
department): conversations, closed, first response (first visitor message -> first agent
or AI text), wait (created -> assigned), resolution (created -> closed), missed (closed
without any agent or AI text), CSAT average and count. Times are averages in seconds.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import peewee as pw
from peewee import JOIN, SQL, Case, fn

from server.errors import BadRequest
from server.kernel.actors import Actor
from server.kernel.enums import ConversationStatus, MessageKind, SenderType
from server.storage.database import is_mysql
from server.storage.guard import TenantScope
from server.storage.models import Agent, Bridge, Conversation, Department, Message

GROUPS = ("day", "agent", "department")
MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
ANSWERING = (SenderType.AGENT.value, SenderType.AI.value)


def parse_range(start: str | None, end: str | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """``from``/``to`` as inclusive UTC dates (default: the last 30 days)."""
    try:
        last = dt.date.fromisoformat(end) if end else today
        first = (
            dt.date.fromisoformat(start) if start else last - dt.timedelta(DEFAULT_RANGE_DAYS - 1)
        )
    except ValueError:
        raise BadRequest("from and to must be dates: YYYY-MM-DD") from None
    if last >= dt.date.max:  # the report ends at the start of the next day
        raise BadRequest("to must be before 9999-12-31")
    if first > last:
        raise BadRequest("from must not be after to")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise BadRequest(f"a report covers at most {MAX_RANGE_DAYS} days")
    return first, last


def _seconds_between(start: pw.Field, end: pw.Field) -> Any:
    """Whole seconds from ``start`` to ``end`` (NULL if either is), per backend."""
    if is_mysql():
        return fn.TIMESTAMPDIFF(SQL("SECOND"), start, end)
    return fn.strftime("%s", end).cast("INTEGER") - fn.strftime("%s", start).cast("INTEGER")


def _bucket(group: str | None) -> Any:
    if group == "day":
        return fn.DATE(Conversation.created_at)  # DATE() on MySQL, date() on SQLite
    if group == "agent":
        return Conversation.assignee_id
    if group == "department":
        return Conversation.department_id
    return None


def _figures(scope: TenantScope, since: dt.datetime, until: dt.datetime, group: str | None) -> Any:
    tenant = scope.tenant_id
    in_range = (Conversation.created_at >= since) & (Conversation.created_at < until)
    # Per conversation: its first visitor message and first answer, read by primary key.
    answer = Message.sender_type.in_(ANSWERING) & (Message.kind == MessageKind.TEXT.value)
    firsts = (
        Message.select(
            Message.conversation_id.alias("conv_id"),
            fn.MIN(
                Case(None, [(Message.sender_type == SenderType.VISITOR.value, Message.created_ms)])
            ).alias("first_in"),
            fn.MIN(Case(None, [(answer, Message.created_ms)])).alias("first_out"),
        )
        .where(
            Message.tenant_id == tenant,
            Message.conversation_id.in_(
                Conversation.select(Conversation.id).where(
                    Conversation.tenant_id == tenant, in_range
                )
            ),
        )
        .group_by(Message.conversation_id)
        .alias("firsts")
    )
    first_in, first_out = firsts.c.first_in, firsts.c.first_out
    closed = Conversation.status == ConversationStatus.CLOSED.value
    columns = [
        fn.COUNT(Conversation.id).alias("conversations"),
        fn.SUM(Case(None, [(closed, 1)], 0)).alias("closed"),
        fn.AVG(Case(None, [(first_out >= first_in, first_out - first_in)])).alias("first_ms"),
        fn.AVG(_seconds_between(Conversation.created_at, Conversation.assigned_at)).alias("wait"),
        fn.AVG(_seconds_between(Conversation.created_at, Conversation.closed_at)).alias(
            "resolution"
        ),
        fn.SUM(Case(None, [(closed & first_out.is_null(), 1)], 0)).alias("missed"),
        fn.AVG(Conversation.rating).alias("csat_avg"),
        fn.COUNT(Conversation.rating).alias("csat_count"),
    ]
    bucket = _bucket(group)
    if bucket is not None:
        columns.insert(0, bucket.alias("bucket"))
    query = (
        Conversation.select(*columns)
        .join(firsts, JOIN.LEFT_OUTER, on=(Conversation.id == firsts.c.conv_id))
        .where(Conversation.tenant_id == tenant, in_range)
    )
    if bucket is not None:
        query = query.group_by(bucket).order_by(bucket)
    return query.dicts()


def _number(value: Any, scale: float = 1.0) -> float | None:
    if value is None:
        return None
    return round(float(Decimal(str(value))) / scale, 3)


def _row(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "conversations": int(values["conversations"] or 0),
        "closed": int(values["closed"] or 0),
        "first_response_avg_secs": _number(values["first_ms"], 1000.0),
        "wait_avg_secs": _number(values["wait"]),
        "resolution_avg_secs": _number(values["resolution"]),
        "missed": int(values["missed"] or 0),
        "csat_avg": _number(values["csat_avg"]),
        "csat_count": int(values["csat_count"] or 0),
    }


def _names(scope: TenantScope, group: str, keys: set[str]) -> dict[str, str]:
    if not keys:
        return {}
    model: Any = Agent if group == "agent" else Department
    rows = scope.select(model, model.id, model.name).where(model.id.in_(keys)).tuples()
    names = {row[0]: row[1] for row in rows}
    if group == "agent" and len(names) < len(keys):  # the AI robot holds some (assignee ai)
        robots = scope.select(Bridge, Bridge.id, Bridge.name).where(
            Bridge.id.in_(keys - set(names))
        )
        names.update({row[0]: row[1] for row in robots.tuples()})
    return names


def conversation_report(actor: Actor, start: dt.date, end: dt.date, group: str) -> dict[str, Any]:
    if group not in GROUPS:
        raise BadRequest("group must be day, agent or department")
    scope = TenantScope(actor.tenant_id)
    since = dt.datetime.combine(start, dt.time())
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    rows = list(_figures(scope, since, until, group))
    keys = [
        None
        if r["bucket"] is None
        else str(r["bucket"])[:10]
        if group == "day"
        else str(r["bucket"])
        for r in rows
    ]
    names = _names(scope, group, {k for k in keys if k}) if group != "day" else {}
    total = list(_figures(scope, since, until, None))
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "group": group,
        "rows": [
            {"key": key, "name": names.get(key) if key else None, **_row(values)}
            for key, values in zip(keys, rows, strict=True)
        ],
        "total": _row(total[0]) if total else None,
    }
