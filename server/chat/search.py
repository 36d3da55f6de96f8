"""Conversation search for agents: full text over message bodies (notes included: they
are the agents' own data), filtered by status, agent, department, label and date.

One query finds the hits, pinned to the caller's tenant on both tables it reads; two
more fetch the names to show. Without ``q`` the filters select conversations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.chat.labels import check_label
from server.chat.records import iso_ms
from server.errors import BadRequest, ErrorCode, SteadyError
from server.kernel.actors import Actor
from server.kernel.enums import ConversationStatus
from server.storage import fulltext
from server.storage.database import db
from server.storage.guard import TenantScope
from server.storage.models import Agent, Conversation, ConversationLabel, Message, Visitor
from server.storage.sealed import active_keyring
from server.times import iso_time

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
QUERY_MAX_CHARS = 200
SNIPPET_BEFORE_CHARS = 60
SNIPPET_CHARS = 160
STATUSES = {"queued", "active", "closed", "open"}


@dataclass(frozen=True)
class SearchQuery:
    terms: list[str]
    status: str | None = None
    agent: str | None = None
    department: str | None = None
    label: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = DEFAULT_LIMIT


def check_search(actor: Actor, args: Mapping[str, str | None]) -> SearchQuery:
    """Validate the query string of ``GET /search``."""
    q = args.get("q") or ""
    if len(q) > QUERY_MAX_CHARS:
        raise BadRequest(f"q must have at most {QUERY_MAX_CHARS} characters")
    terms = fulltext.search_terms(q)
    if q.strip() and not terms:
        raise BadRequest("q has no words to search for")
    if q.strip() and active_keyring() is not None:
        # Sealed bodies are random-looking envelopes: an index over them finds nothing,
        # and an empty answer would be a lie. The filters alone still work.
        raise SteadyError(
            "message bodies are encrypted at rest: search by status, agent, department, "
            "label or date instead",
            code=ErrorCode.SEARCH_UNAVAILABLE,
            status=409,
        )
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest("status must be queued, active, closed or open")
    agent = args.get("agent") or None
    if agent == "me":
        agent = actor.id
    label = args.get("label")
    limit_text = args.get("limit") or str(DEFAULT_LIMIT)
    try:
        limit = int(limit_text)
    except ValueError:
        raise BadRequest("limit must be an integer") from None
    return SearchQuery(
        terms=terms,
        status=status,
        agent=agent,
        department=args.get("department") or None,
        label=check_label(label) if label else None,
        since=_moment(args.get("from"), "from", end_of_day=False),
        until=_moment(args.get("to"), "to", end_of_day=True),
        limit=max(1, min(limit, MAX_LIMIT)),
    )


def _moment(value: str | None, name: str, *, end_of_day: bool) -> dt.datetime | None:
    """An ISO date or date-time (UTC when no offset); a bare ``to`` date includes its day."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date or date-time") from None
    try:
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        if end_of_day and len(value) == 10:
            moment += dt.timedelta(days=1)
    except OverflowError:  # 9999-12-31 plus a day, 0001-01-01 minus an offset
        raise BadRequest(f"{name} is out of range") from None
    return moment


def _conversation_filters(query: Any, scope: TenantScope, search: SearchQuery) -> Any:
    if search.status == "open":
        query = query.where(Conversation.status != ConversationStatus.CLOSED.value)
    elif search.status:
        query = query.where(Conversation.status == search.status)
    if search.agent:
        query = query.where(Conversation.assignee_id == search.agent)
    if search.department:
        query = query.where(Conversation.department_id == search.department)
    if search.label:
        labelled = scope.select(ConversationLabel, ConversationLabel.conversation_id).where(
            ConversationLabel.label == search.label
        )
        query = query.where(Conversation.id.in_(labelled))
    return query


def search(actor: Actor, search: SearchQuery) -> list[dict[str, Any]]:
    scope = TenantScope(actor.tenant_id)
    hits = _message_hits(scope, search) if search.terms else _conversation_hits(scope, search)
    return _with_names(scope, hits)


def _message_hits(scope: TenantScope, search: SearchQuery) -> list[dict[str, Any]]:
    query = (
        scope.select(
            Message,
            Message.conversation_id,
            Message.id,
            Message.seq,
            Message.kind,
            Message.body,
            Message.created_ms,
            Conversation.status,
            Conversation.assignee_id,
            Conversation.department_id,
            Conversation.visitor_id,
        )
        .join(Conversation, on=(Message.conversation_id == Conversation.id))
        .where(
            Conversation.tenant_id == scope.tenant_id,
            fulltext.match_condition(db.obj, search.terms),
        )
    )
    query = _conversation_filters(query, scope, search)
    if search.since:
        query = query.where(Message.created_ms >= _epoch_ms(search.since))
    if search.until:
        query = query.where(Message.created_ms < _epoch_ms(search.until))
    rows = query.order_by(Message.created_ms.desc()).limit(search.limit).tuples()
    return [
        {
            "conv": conv,
            "message_id": message_id,
            "seq": seq,
            "kind": kind,
            "ts": iso_ms(created_ms),
            "snippet": snippet(body, search.terms),
            "status": status,
            "agent": assignee,
            "department": department,
            "visitor": visitor,
        }
        for (
            conv,
            message_id,
            seq,
            kind,
            body,
            created_ms,
            status,
            assignee,
            department,
            visitor,
        ) in rows
    ]


def _conversation_hits(scope: TenantScope, search: SearchQuery) -> list[dict[str, Any]]:
    query = scope.select(
        Conversation,
        Conversation.id,
        Conversation.status,
        Conversation.assignee_id,
        Conversation.department_id,
        Conversation.visitor_id,
        Conversation.created_at,
    )
    query = _conversation_filters(query, scope, search)
    if search.since:
        query = query.where(Conversation.created_at >= search.since)
    if search.until:
        query = query.where(Conversation.created_at < search.until)
    rows = query.order_by(Conversation.created_at.desc()).limit(search.limit).tuples()
    return [
        {
            "conv": conv,
            "message_id": None,
            "seq": None,
            "kind": None,
            "ts": iso_time(created),
            "snippet": None,
            "status": status,
            "agent": assignee,
            "department": department,
            "visitor": visitor,
        }
        for conv, status, assignee, department, visitor, created in rows
    ]


def _with_names(scope: TenantScope, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    visitor_ids = {hit["visitor"] for hit in hits}
    agent_ids = {hit["agent"] for hit in hits if hit["agent"]}
    visitors = (
        dict(
            scope.select(Visitor, Visitor.id, Visitor.name)
            .where(Visitor.id.in_(visitor_ids))
            .tuples()
        )
        if visitor_ids
        else {}
    )
    agents = (
        dict(scope.select(Agent, Agent.id, Agent.name).where(Agent.id.in_(agent_ids)).tuples())
        if agent_ids
        else {}
    )
    for hit in hits:
        hit["visitor"] = {"id": hit["visitor"], "name": visitors.get(hit["visitor"], "")}
        agent = hit["agent"]
        hit["agent"] = {"id": agent, "name": agents.get(agent, "")} if agent else None
    return hits


def snippet(body: str, terms: list[str]) -> str:
    """About ``SNIPPET_CHARS`` of ``body`` around the first term found (plain text)."""
    lowered = body.lower()
    found = [pos for term in terms if (pos := lowered.find(term)) >= 0]
    start = max(0, min(found) - SNIPPET_BEFORE_CHARS) if found else 0
    text = body[start : start + SNIPPET_CHARS]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + SNIPPET_CHARS < len(body) else ""
    return prefix + " ".join(text.split()) + suffix


def _epoch_ms(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=dt.UTC).timestamp() * 1000)
