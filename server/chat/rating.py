"""CSAT: the visitor rates a closed conversation once (1-5, optional comment).

Offered when the conversation closes (``conv.closed`` carries ``"csat": true`` when the
site has CSAT on); answered by ``conv.rated`` to the visitor's connections and to the
assigned agent. A second rating is refused (``already_rated``): the first one stands, so a
report never changes under an agent's feet.
"""

from __future__ import annotations

from typing import Any

from server.bus import Bus
from server.chat.access import access_conversation
from server.chat.directory import ConversationDirectory
from server.chat.masking import MaskingPolicies
from server.errors import BadRequest, ErrorCode, Forbidden, NotFound, SteadyError
from server.kernel import topics
from server.kernel.actors import Actor, ConversationRef
from server.kernel.enums import ConversationStatus
from server.storage.database import Store
from server.storage.guard import TenantScope
from server.storage.models import Conversation, Site, utcnow
from server.times import iso_time
from steadywire.events import ConvRated

RATING_MIN, RATING_MAX = 1, 5
COMMENT_MAX_CHARS = 1000


class AlreadyRated(SteadyError):
    code, http_status = ErrorCode.ALREADY_RATED, 409


class ConversationOpen(SteadyError):
    code, http_status = ErrorCode.CONVERSATION_OPEN, 409


class CsatDisabled(SteadyError):
    code, http_status = ErrorCode.CSAT_DISABLED, 403


def check_rating(rating: object, comment: object) -> tuple[int, str | None]:
    if (
        isinstance(rating, bool)
        or not isinstance(rating, int)
        or not (RATING_MIN <= rating <= RATING_MAX)
    ):
        raise BadRequest(f"rating must be an integer from {RATING_MIN} to {RATING_MAX}")
    if comment is None:
        return rating, None
    if not isinstance(comment, str):
        raise BadRequest("comment must be a string")
    if len(comment) > COMMENT_MAX_CHARS:
        raise BadRequest(f"comment is longer than {COMMENT_MAX_CHARS} characters")
    return rating, comment.strip() or None


def csat_offered(ref: ConversationRef) -> bool:
    """Whether the conversation's site offers CSAT (sites without the row: yes)."""
    site = TenantScope(ref.tenant_id).get_or_none(Site, Site.id == ref.site_id)
    return site is None or bool(site.csat_enabled)


def _store_rating(ref: ConversationRef, rating: int, comment: str | None) -> dict[str, Any]:
    scope = TenantScope(ref.tenant_id)
    if not csat_offered(ref):
        raise CsatDisabled("this site does not collect ratings")
    rated_at = utcnow()
    # One conditional UPDATE: two ratings at once, exactly one is stored.
    stored = (
        scope.update(Conversation, rating=rating, rating_comment=comment, rated_at=rated_at)
        .where(
            Conversation.id == ref.id,
            Conversation.status == ConversationStatus.CLOSED.value,
            Conversation.rating.is_null(),
        )
        .execute()
    )
    row = scope.get_or_none(Conversation, Conversation.id == ref.id)
    if row is None:
        raise NotFound("no such conversation")
    if not stored:
        if row.status != ConversationStatus.CLOSED.value:
            raise ConversationOpen("a conversation can be rated once it is closed")
        raise AlreadyRated("this conversation has already been rated")
    return {"assignee": row.assignee_id, "data": rating_data(row)}


def rating_data(row: Conversation) -> dict[str, Any] | None:
    """The rating as agents and the visitor see it, or None when not rated."""
    if row.rating is None:
        return None
    return {
        "rating": int(row.rating),
        "comment": row.rating_comment,
        "rated_at": iso_time(row.rated_at),
    }


class RatingService:
    def __init__(
        self, store: Store, bus: Bus, directory: ConversationDirectory, masking: MaskingPolicies
    ):
        self.store = store
        self.bus = bus
        self.directory = directory
        self.masking = masking

    async def rate(
        self, actor: Actor, conv: object, rating: object, comment: object
    ) -> dict[str, Any]:
        """Store the visitor's rating; the ``conv.rated`` event (already published)."""
        if not actor.is_visitor:
            raise Forbidden("only the conversation's visitor may rate it")
        score, text = check_rating(rating, comment)
        ref = await access_conversation(self.directory, actor, conv)
        if text is not None:
            text = (await self.masking.policy(ref.tenant_id)).apply(text)
        stored = await self.store.run(_store_rating, ref, score, text)
        event = ConvRated.from_data(stored["data"]).to_event(ref.id)
        self.bus.publish(topics.conversation(ref.id), event)  # the visitor's connections
        if stored["assignee"]:
            self.bus.publish(topics.agent(stored["assignee"]), event)
        return event
