"""Who may touch which conversation. ``access_*`` fetch and check, or raise Forbidden."""

from __future__ import annotations

from server.chat.directory import ConversationDirectory
from server.errors import Forbidden
from server.kernel.actors import Actor, ConversationRef

_DENIED = "you have no access to this conversation"


def may_access(actor: Actor, ref: ConversationRef | None) -> bool:
    if ref is None or ref.tenant_id != actor.tenant_id:
        return False
    if actor.is_visitor:
        return ref.visitor_id == actor.id
    return True  # agents and admins: every conversation of their own tenant


def access_cached(
    directory: ConversationDirectory, actor: Actor, conv: str
) -> ConversationRef | None:
    """The fast path: a cached ref that passes the check, None when the cache has no answer."""
    ref = directory.cached(conv)
    if ref is None:
        return None
    if not may_access(actor, ref):
        raise Forbidden(_DENIED)
    if actor.departments is not None:
        return None  # a department scope needs the conversation's current department
    return ref


async def access_conversation(
    directory: ConversationDirectory, actor: Actor, conv: object
) -> ConversationRef:
    # Unknown and foreign look the same, so ids cannot be probed.
    if not isinstance(conv, str) or not conv:
        raise Forbidden(_DENIED)
    ref = await directory.lookup(conv)
    if ref is None or not may_access(actor, ref):
        raise Forbidden(_DENIED)
    # A bridge narrowed to departments (and the agents acting through it): the department
    # changes on transfer, so it is read now, not cached.
    if actor.departments is not None and not actor.in_scope(await directory.department(ref)):
        raise Forbidden(_DENIED)
    return ref
