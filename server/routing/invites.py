"""Proactive invite: an agent starts a conversation with a browsing visitor.

The conversation is created already assigned to the inviting agent (it never waits in the
queue), the visitor's widget hears ``conv.opened`` with ``invited_by`` (it opens the panel
and shows who is writing), and the agent's greeting is stored through the normal send path
as the conversation's first message. The visitor's reply goes to that agent like any reply
in an active conversation. A visitor who already has an open conversation cannot be
invited (``409 conversation_open``); one with no connection open on any node (it left, or
its widget does not track browsing) and another tenant's visitor are not found (404).
"""

from __future__ import annotations

import uuid
from typing import Any

import peewee as pw

from server.bus import Bus
from server.chat.queries import conversation_ref
from server.chat.service import ChatService
from server.chat.visitors import conversation_visitor
from server.errors import BadRequest, Conflict, ErrorCode, Forbidden, NotFound
from server.ids import new_id
from server.kernel import topics
from server.kernel.actors import Actor, ConversationRef
from server.kernel.enums import ConversationStatus, SenderType
from server.routing.presence import Presence
from server.storage.database import Store, db
from server.storage.guard import TenantScope
from server.storage.models import Conversation, Site, Visitor, utcnow
from steadywire.events import ConvAssigned, ConvOpened
from steadywire.server_frames import Sender

GREETING_MAX_CHARS = 2000


def _already_chatting() -> Conflict:
    return Conflict("this visitor is already in a conversation", code=ErrorCode.CONVERSATION_OPEN)


def check_greeting(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise BadRequest("body (the greeting) must be a non-empty string")
    if len(body) > GREETING_MAX_CHARS:
        raise BadRequest(f"body must be at most {GREETING_MAX_CHARS} characters")
    return body


def open_invited(agent: Actor, visitor_id: str) -> ConversationRef:
    """Create the visitor's open conversation, assigned to ``agent`` (inside ``store.run``)."""
    scope = TenantScope(agent.tenant_id)
    visitor = scope.get_or_none(Visitor, Visitor.id == visitor_id)
    if visitor is None or scope.get_or_none(Site, Site.id == visitor.site_id) is None:
        raise NotFound("no such visitor")
    if scope.get_or_none(Conversation, Conversation.open_key == visitor.id) is not None:
        raise _already_chatting()
    now = utcnow()
    try:
        with db.atomic():
            row = scope.create(
                Conversation,
                id=new_id(),
                site_id=visitor.site_id,
                visitor_id=visitor.id,
                status=ConversationStatus.ACTIVE.value,
                assignee_id=agent.id,
                assigned_at=now,
                open_key=visitor.id,  # the unique key: one open conversation per visitor
            )
    except pw.IntegrityError:
        raise _already_chatting() from None  # the visitor wrote first, or another invite won
    return conversation_ref(row)


class Invites:
    def __init__(self, store: Store, bus: Bus, chat: ChatService, presence: Presence):
        self.store = store
        self.bus = bus
        self.chat = chat
        self.presence = presence

    async def invite(self, agent: Actor, visitor_id: object, body: object) -> dict[str, Any]:
        if agent.type is not SenderType.AGENT or agent.api_key or agent.via:
            raise Forbidden("only an agent with its own login may invite")
        if not isinstance(visitor_id, str) or not visitor_id:
            raise NotFound("no such visitor")
        greeting = check_greeting(body)
        # Only someone on the site now: an invite is a chat that starts at once, not mail.
        if not await self.presence.connected_ids("visitor", agent.tenant_id, [visitor_id]):
            raise NotFound("this visitor is not on the site now")
        ref = await self.store.run(open_invited, agent, visitor_id)
        self.chat.directory.remember(ref)
        # The visitor's connections follow the new conversation (and replay the greeting);
        # the agent's, like after an accept, follow it on conv.assigned.
        self.bus.publish(
            topics.visitor(ref.visitor_id),
            ConvOpened(None, invited_by=Sender(**agent.wire())).to_event(ref.id),
        )
        visitor = await self.store.run(conversation_visitor, ref.tenant_id, ref.id)
        self.bus.publish(
            topics.agents(ref.tenant_id),
            ConvAssigned(
                Sender(**agent.wire()), 0, visitor or {}, for_agents=True, invited=True
            ).to_event(ref.id),
        )
        result = await self.chat.send(agent, ref.id, "invite-" + uuid.uuid4().hex, greeting)
        return {"conv": ref.id, "visitor": ref.visitor_id, "message": result.message.wire()}
