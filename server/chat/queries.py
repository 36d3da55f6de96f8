"""Units of work of the chat domain: blocking queries, run on the store's threads."""

from __future__ import annotations

from typing import Any

import peewee as pw

from server.chat.attachment_rows import claimed_attachments
from server.chat.prechat import check_prechat
from server.chat.records import StoredMessage
from server.chat.rendered import RENDERED
from server.chat.visitors import visitor_context
from server.foundation import audit
from server.ids import new_id
from server.kernel.actors import Actor, ConversationRef
from server.kernel.enums import ConversationStatus, MessageKind
from server.storage.database import db
from server.storage.guard import TenantScope
from server.storage.models import Conversation, Message, Visitor, utcnow
from server.times import iso_time
from steadywire.events import ConvQueued

QUEUED_PREVIEW_MESSAGES = 20


def conversation_ref(row: Conversation) -> ConversationRef:
    return ConversationRef(row.id, row.tenant_id, row.visitor_id, row.site_id)


def current_conversation(visitor: Actor) -> str | None:
    scope = TenantScope(visitor.tenant_id)
    row = scope.get_or_none(Conversation, Conversation.open_key == visitor.id)
    return row.id if row else None


def own_conversations(actor: Actor) -> list[tuple[str, int]]:
    """Open conversations a participant takes part in: the visitor's, the agent's assigned,
    with their last seq."""
    scope = TenantScope(actor.tenant_id)
    query = scope.select(Conversation, Conversation.id, Conversation.last_seq)
    if actor.is_visitor:
        query = query.where(Conversation.open_key == actor.id)
    else:
        query = query.where(
            Conversation.assignee_id == actor.id,
            Conversation.status == ConversationStatus.ACTIVE.value,
        )
    return [(row[0], int(row[1])) for row in query.limit(500).tuples()]


def open_conversation(visitor: Actor, previous: str | None) -> tuple[ConversationRef, bool]:
    scope = TenantScope(visitor.tenant_id)
    existing = scope.get_or_none(Conversation, Conversation.open_key == visitor.id)
    if existing:
        return conversation_ref(existing), False
    check_prechat(scope, visitor.site_id or "", visitor.id)
    try:
        with db.atomic():
            row = scope.create(
                Conversation,
                id=new_id(),
                site_id=visitor.site_id or "",
                visitor_id=visitor.id,
                status=ConversationStatus.QUEUED.value,
                open_key=visitor.id,
                previous_id=previous,
            )
        return conversation_ref(row), True
    except pw.IntegrityError:
        # Another connection of the same visitor opened it first: use that one.
        existing = scope.get_or_none(Conversation, Conversation.open_key == visitor.id)
        if existing is None:
            raise
        return conversation_ref(existing), False


def close_conversation(ref: ConversationRef, actor: Actor) -> bool:
    """Close it; whether this call did (a second close changes nothing, and is audited
    like the first when a bridge asks)."""
    scope = TenantScope(ref.tenant_id)
    with db.atomic():
        changed = (
            scope.update(
                Conversation,
                status=ConversationStatus.CLOSED.value,
                open_key=None,
                closed_at=utcnow(),
            )
            .where(
                Conversation.id == ref.id, Conversation.status != ConversationStatus.CLOSED.value
            )
            .execute()
        )
        audit.in_transaction(actor, "conversation.close", ref.id)
    return bool(changed)


def mark_read(ref: ConversationRef, actor: Actor, seq: int) -> None:
    scope = TenantScope(ref.tenant_id)
    column = Conversation.visitor_read_seq if actor.is_visitor else Conversation.agent_read_seq
    scope.update(Conversation, **{column.name: seq}).where(
        Conversation.id == ref.id, column < seq, Conversation.last_seq >= seq
    ).execute()


def messages_after(
    ref: ConversationRef, after: int, limit: int, include_notes: bool
) -> list[StoredMessage]:
    """Up to ``limit`` messages after ``after``, in seq order."""
    return message_page(ref, after, limit, include_notes, None)[0]


def message_page(
    ref: ConversationRef, after: int, limit: int, include_notes: bool, max_bytes: int | None
) -> tuple[list[StoredMessage], bool]:
    """Up to ``limit`` messages after ``after`` and whether more follow; with
    ``max_bytes``, fewer once their ``message`` frames would pass that size (always at
    least one). Rows are read lazily, so a page cut by size stops reading early."""
    scope = TenantScope(ref.tenant_id)
    query = scope.select(Message, *MESSAGE_COLUMNS).where(
        Message.conversation_id == ref.id, Message.seq > after
    )
    if not include_notes:
        query = query.where(Message.kind != MessageKind.NOTE.value)
    rows: Any = query.order_by(Message.seq).limit(limit + 1).tuples()
    attached = claimed_attachments(ref.tenant_id, ref.id, after)
    messages: list[StoredMessage] = []
    size = 0
    for row in rows:
        if len(messages) == limit:
            return messages, True
        message = StoredMessage.from_row(row)
        message.attachments = attached.get(message.id)
        # Here, on the store's thread, not on the event loop: html and the frame.
        RENDERED.fill(message)
        if max_bytes is not None:
            size += len(message.frame()) + 1
            if messages and size > max_bytes:
                return messages, True
        messages.append(message)
    return messages, False


# In the column order StoredMessage.from_row reads.
MESSAGE_COLUMNS = [
    Message.id,
    Message.tenant_id,
    Message.conversation_id,
    Message.seq,
    Message.kind,
    Message.sender_type,
    Message.sender_id,
    Message.sender_name,
    Message.cid,
    Message.body,
    Message.created_ms,
]


def queued_event(tenant_id: str, conv: str) -> dict[str, Any] | None:
    """``conv.queued`` with the visitor and the first messages, for agents to pick it up."""
    scope = TenantScope(tenant_id)
    row = scope.get_or_none(Conversation, Conversation.id == conv)
    if row is None or row.status != ConversationStatus.QUEUED.value:
        return None
    visitor = scope.get_or_none(Visitor, Visitor.id == row.visitor_id)
    messages = messages_after(
        conversation_ref(row), 0, QUEUED_PREVIEW_MESSAGES, include_notes=False
    )
    queued = ConvQueued(
        visitor_context(scope, visitor, current=conv) if visitor else {},
        tuple(m.wire_message() for m in messages),
        row.status,
        iso_time(row.created_at),
        row.department_id,
    )
    return queued.to_event(conv)


def queued_conversations(tenant_id: str, limit: int = 200) -> list[str]:
    scope = TenantScope(tenant_id)
    rows = (
        scope.select(Conversation, Conversation.id)
        .where(Conversation.status == ConversationStatus.QUEUED.value, Conversation.last_seq > 0)
        .order_by(Conversation.created_at)
        .limit(limit)
        .tuples()
    )
    return [row[0] for row in rows]


def greeted_first(tenant_id: str, conv: str, greeting_cid: str) -> bool:
    """Whether the conversation's seq 1 is the greeting (stored before the visitor's first
    message, which is then seq 2)."""
    scope = TenantScope(tenant_id)
    row = scope.get_or_none(
        Message, Message.conversation_id == conv, Message.seq == 1, Message.cid == greeting_cid
    )
    return row is not None
