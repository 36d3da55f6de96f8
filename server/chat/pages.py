"""The page trail: a visitor's client reports the pages it shows (``page`` frames).

Each view is stored (the newest ``PAGES_KEPT`` per visitor), becomes the visitor's
``page_url``, and is told to the agents who can see the visitor's open conversation as
``visitor.seen``: every agent of the tenant while it is queued, its followers (the
assigned agent) once it is active, and always the admins watching the live monitor
(``topics.monitor``). Visitors never receive it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.bus import Bus
from server.errors import Forbidden
from server.kernel import topics
from server.kernel.actors import Actor
from server.kernel.enums import ConversationStatus
from server.storage.database import Store, db
from server.storage.guard import TenantScope
from server.storage.models import Conversation, Visitor, VisitorPage, utcnow
from server.times import iso_time
from steadywire.client_frames import Page
from steadywire.events import EventName, VisitorSeen

PAGES_KEPT = 50
VISITOR_SEEN = EventName.VISITOR_SEEN.value
# Events that a conversation's topic carries for its agents, never for its visitor.
AGENT_ONLY_EVENTS = frozenset({VISITOR_SEEN})


@dataclass(frozen=True, slots=True)
class PageView:
    url: str
    title: str
    referrer: str


def check_page_view(actor: Actor, page: Page) -> PageView:
    """A ``page`` frame from a visitor's connection (only its own views); its URLs and
    title were checked and cleaned when steadywire read it."""
    if not actor.is_visitor:
        raise Forbidden("page is for visitors only")
    if page.visitor is not None and page.visitor != actor.id:
        raise Forbidden("a visitor can only report its own pages")
    return PageView(page.url, page.title or "", page.referrer or "")


def record_page(visitor: Actor, view: PageView) -> tuple[dict[str, Any], str | None]:
    """Store a view; the ``visitor.seen`` event and the topic to publish it on (or None)."""
    scope = TenantScope(visitor.tenant_id)
    now = utcnow()
    with db.atomic():
        row = scope.create(
            VisitorPage,
            visitor_id=visitor.id,
            url=view.url,
            title=view.title,
            referrer=view.referrer,
            at=now,
        )
        scope.update(Visitor, page_url=view.url, last_seen_at=now).where(
            Visitor.id == visitor.id
        ).execute()
        _prune(scope, visitor.id)
        conv = scope.get_or_none(Conversation, Conversation.open_key == visitor.id)
    seen = VisitorSeen(visitor.id, row.url, row.title, row.referrer, iso_time(now))
    event = seen.to_event(conv.id if conv else None)
    if conv is None:
        return event, None
    if conv.status == ConversationStatus.QUEUED.value:
        return event, topics.agents(visitor.tenant_id)
    return event, topics.conversation(conv.id)


def _prune(scope: TenantScope, visitor_id: str) -> None:
    oldest_kept = (
        scope.select(VisitorPage, VisitorPage.id)
        .where(VisitorPage.visitor_id == visitor_id)
        .order_by(VisitorPage.id.desc())
        .offset(PAGES_KEPT - 1)
        .limit(1)
        .scalar()
    )
    if oldest_kept is not None:
        scope.delete(VisitorPage).where(
            VisitorPage.visitor_id == visitor_id, VisitorPage.id < oldest_kept
        ).execute()


class PageTrail:
    """The action behind the ``page`` frame: validate, store, then publish."""

    def __init__(self, store: Store, bus: Bus):
        self.store = store
        self.bus = bus

    async def record(self, actor: Actor, page: Page) -> dict[str, Any]:
        view = check_page_view(actor, page)
        event, topic = await self.store.run(record_page, actor, view)
        if topic is not None:
            self.bus.publish(topic, event)
        self.bus.publish(topics.monitor(actor.tenant_id), event)
        return event
