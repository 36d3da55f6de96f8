"""A team lead (an admin) joins a conversation another agent has: "barging in".

Any agent of the tenant may already send into any of its conversations; what barging in
adds is that the visitor is told who joined, before their first words: one ``system``
message, "<name> joined the conversation", stored once per person and conversation (its
cid names the person, and the writer stores a cid once), so joining twice says it once.
Admins only (the route's level): an agent asks the assignee for a transfer instead.
"""

from __future__ import annotations

from typing import Any

from server.chat.labels import access_conversation_row
from server.chat.service import ChatService
from server.errors import Conflict, ErrorCode
from server.kernel.actors import Actor
from server.kernel.enums import ConversationStatus
from server.storage.guard import TenantScope
from server.storage.models import Conversation


def joined_text(name: str) -> str:
    return f"{name or 'A team lead'} joined the conversation"


def _open_row(actor: Actor, conv: str) -> Conversation:
    row = access_conversation_row(TenantScope(actor.tenant_id), conv)  # foreign: 404
    if row.status == ConversationStatus.CLOSED.value:
        raise Conflict("this conversation is closed", code=ErrorCode.CONVERSATION_CLOSED)
    return row


async def join(chat: ChatService, actor: Actor, conv: str) -> dict[str, Any]:
    """Tell the visitor (and the agents following) that ``actor`` joined ``conv``."""
    row = await chat.store.run(_open_row, actor, conv)
    body = joined_text(actor.name)
    result = await chat.send_system(actor.tenant_id, row.id, f"join-{actor.id}", body)
    message = result.message
    return {"conv": row.id, "seq": message.seq, "body": message.body, "duplicate": result.duplicate}
