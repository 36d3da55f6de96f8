"""What agents see of a visitor: who, from where, with what, and what came before.

Read models only (blocking queries, run on the store's threads). Every lookup is pinned
to one tenant; a visitor of another tenant is "not found", exactly like an unknown id.
"""

from __future__ import annotations

import functools
from typing import Any

import ua_parser

from server.errors import NotFound
from server.storage.guard import TenantScope
from server.storage.models import Conversation, Visitor, VisitorPage
from server.times import iso_time

PAGES_IN_EVENT = 10
PAGES_IN_REST = 50
PREVIOUS_CONVERSATIONS = 20
_UA_CACHE_SIZE = 2048


@functools.lru_cache(maxsize=_UA_CACHE_SIZE)
def parse_user_agent(user_agent: str) -> dict[str, str]:
    """Browser, OS and device names (with major versions) from a User-Agent string."""
    if not user_agent:
        return {"browser": "", "os": "", "device": ""}
    parsed = ua_parser.parse(user_agent)
    browser = parsed.user_agent
    system = parsed.os
    device = parsed.device
    return {
        "browser": _named(browser.family, browser.major) if browser else "",
        "os": _named(system.family, system.major) if system else "",
        "device": device.family if device and device.family != "Other" else "",
    }


def _named(family: str, major: str | None) -> str:
    if not family or family == "Other":
        return ""
    return f"{family} {major}" if major else family


def _iso(value: Any) -> str | None:
    return iso_time(value)


def visitor_card(visitor: Visitor | None) -> dict[str, Any] | None:
    if visitor is None:
        return None
    return {
        "id": visitor.id,
        "name": visitor.name,
        "email": visitor.email,
        "language": visitor.language,
        "page_url": visitor.page_url,
        "referrer": visitor.referrer,
        "visit_count": visitor.visit_count,
    }


def page_wire(row: VisitorPage) -> dict[str, Any]:
    return {"url": row.url, "title": row.title, "referrer": row.referrer, "at": _iso(row.at)}


def recent_pages(scope: TenantScope, visitor_id: str, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` page views, oldest first."""
    rows = list(
        scope.select(VisitorPage)
        .where(VisitorPage.visitor_id == visitor_id)
        .order_by(VisitorPage.id.desc())
        .limit(limit)
    )
    return [page_wire(row) for row in reversed(rows)]


def previous_conversations(
    scope: TenantScope, visitor_id: str, exclude: str | None
) -> list[dict[str, Any]]:
    query = scope.select(
        Conversation,
        Conversation.id,
        Conversation.status,
        Conversation.created_at,
        Conversation.closed_at,
    ).where(Conversation.visitor_id == visitor_id)
    if exclude:
        query = query.where(Conversation.id != exclude)
    rows = query.order_by(Conversation.created_at.desc()).limit(PREVIOUS_CONVERSATIONS)
    return [
        {
            "id": row.id,
            "status": row.status,
            "created_at": _iso(row.created_at),
            "closed_at": _iso(row.closed_at),
        }
        for row in rows
    ]


def visitor_context(
    scope: TenantScope,
    visitor: Visitor,
    *,
    current: str | None = None,
    pages: int = PAGES_IN_EVENT,
) -> dict[str, Any]:
    """The visitor card (its fields kept as they were) plus everything an agent may use."""
    card = visitor_card(visitor) or {}
    return {
        **card,
        "ip": visitor.ip,
        "user_agent": visitor.user_agent,
        **parse_user_agent(visitor.user_agent or ""),
        "first_seen_at": _iso(visitor.created_at),
        "last_seen_at": _iso(visitor.last_seen_at),
        "pages": recent_pages(scope, visitor.id, pages),
        "previous_conversations": previous_conversations(scope, visitor.id, current),
    }


def conversation_visitor(tenant_id: str, conv: str) -> dict[str, Any] | None:
    """The context of a conversation's visitor, for ``conv.queued``/``conv.assigned``."""
    scope = TenantScope(tenant_id)
    row = scope.get_or_none(Conversation, Conversation.id == conv)
    if row is None:
        return None
    visitor = scope.get_or_none(Visitor, Visitor.id == row.visitor_id)
    return visitor_context(scope, visitor, current=conv) if visitor else None


def get_visitor(tenant_id: str, visitor_id: str) -> dict[str, Any]:
    """``GET /visitors/{id}``: the full context with the longer page trail."""
    scope = TenantScope(tenant_id)
    visitor = scope.get_or_none(Visitor, Visitor.id == visitor_id)
    if visitor is None:
        raise NotFound("no such visitor")
    return visitor_context(scope, visitor, pages=PAGES_IN_REST)
