"""Attachments: upload, a fresh URL for a participant, the bytes behind a signed URL, and
the metadata messages carry (docs/protocol.md "Attachments (v1.1)").

An upload is its own request and stores an unbound row. The message that first names it
claims it in the message's own transaction (server/chat/writer.py), so an acked message's
attachments are durable with it; rows never claimed are collected after a day
(``collect_unclaimed``, run by the scheduler's lease holder).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from server.chat.access import access_conversation, may_access
from server.chat.attachment_content import CleanFile, clean_upload
from server.chat.attachment_rows import meta_of
from server.chat.directory import ConversationDirectory
from server.chat.records import StoredMessage
from server.errors import Forbidden, NotFound, Unavailable
from server.foundation.settings import tenant_settings
from server.ids import new_id
from server.kernel.actors import Actor, ConversationRef
from server.kernel.enums import MessageKind, SenderType
from server.security.attachment_links import AttachmentLinks, ExpiredUrl, Grant
from server.storage.blobs import BlobStore
from server.storage.database import Store, db, is_mysql
from server.storage.guard import TenantScope, cross_tenant
from server.storage.models import Agent, ApiKey, Attachment, Bridge, Conversation, Message, Operator
from server.times import iso_ms

log = logging.getLogger(__name__)

UNCLAIMED_TTL_MS = 24 * 3600 * 1000
CLEANING_AT_ONCE = 2
_DENIED = "you have no access to this attachment"


API_KEY = "apikey"  # a tenant backend's signed request (its id is the key's)


def participant_of(actor: Actor) -> str:
    """Whom a URL is issued to: "<kind>:<id>", kind a sender type or "apikey"."""
    return f"{API_KEY if actor.api_key else actor.type.value}:{actor.id}"


def _uploaded_by(actor: Actor, row: Attachment) -> bool:
    return actor.type.value == row.uploader_type and actor.id == row.uploader_id


@dataclass(frozen=True, slots=True)
class Content:
    name: str
    mime: str
    data: bytes


class AttachmentService:
    def __init__(
        self,
        store: Store,
        directory: ConversationDirectory,
        blobs: dict[str, BlobStore],
        links: AttachmentLinks,
    ):
        self.store = store
        self.directory = directory
        self.blobs = blobs
        self.default_blobs = next(iter(blobs.values()))
        self.links = links
        self._cleaning = asyncio.Semaphore(CLEANING_AT_ONCE)

    # -- upload ---------------------------------------------------------------------
    async def max_bytes(self, tenant_id: str) -> int:
        limits = (await self.store.run(tenant_settings, tenant_id)).limits
        return limits.attachment_max_bytes

    async def upload(self, actor: Actor, conv: str | None, raw: bytes, name: str) -> dict[str, Any]:
        ref: ConversationRef | None = None
        if conv:
            ref = await access_conversation(self.directory, actor, conv)
        elif not actor.is_visitor:
            raise Forbidden("agents name the conversation they upload to")
        limit = await self.max_bytes(actor.tenant_id)
        # Decoding and encoding an image is ~50 ms of CPU for 1 MB: off the event loop (the
        # WebSockets keep flowing), and at most CLEANING_AT_ONCE at a time per node.
        async with self._cleaning:
            clean = await asyncio.to_thread(clean_upload, raw, name, limit)
        attachment_id = new_id()
        blobs = self.default_blobs
        if blobs.kind == "db":
            row = await self.store.run(self._store, actor, ref, clean, attachment_id)
        else:
            # Bytes first, outside any transaction (a bucket is a network away: no database
            # lock or connection waits on it); a failed put raises before a row exists.
            await asyncio.to_thread(blobs.put, actor.tenant_id, attachment_id, clean.data)
            try:
                row = await self.store.run(self._store, actor, ref, clean, attachment_id)
            except Exception:
                # No row names them: take the bytes back (best effort; nothing was acked).
                await asyncio.to_thread(_forget, blobs, actor.tenant_id, attachment_id)
                raise
        return self.described(meta_of(row), actor)

    def _store(
        self, actor: Actor, ref: ConversationRef | None, clean: CleanFile, attachment_id: str
    ) -> Attachment:
        blobs = self.default_blobs
        scope = TenantScope(actor.tenant_id)
        with db.atomic() if is_mysql() else db.atomic("IMMEDIATE"):
            if blobs.kind == "db":
                # In the row's own transaction: a row never names bytes that are not there.
                blobs.put(actor.tenant_id, attachment_id, clean.data)
            return scope.create(
                Attachment,
                id=attachment_id,
                conversation_id=ref.id if ref else None,
                uploader_type=actor.type.value,
                uploader_id=actor.id,
                name=clean.name,
                mime=clean.mime,
                size=len(clean.data),
                sha256=hashlib.sha256(clean.data).hexdigest(),
                storage=blobs.kind,
                created_ms=int(time.time() * 1000),
            )

    # -- URLs -----------------------------------------------------------------------
    def described(self, meta: dict[str, Any], actor: Actor) -> dict[str, Any]:
        """``meta`` with a URL signed for ``actor`` and its expiry."""
        url, expires = self.links.url(actor.tenant_id, meta["id"], participant_of(actor))
        return {**meta, "url": url, "expires_at": iso_ms(expires * 1000)}

    def signed_wire(self, message: StoredMessage, actor: Actor) -> dict[str, Any]:
        wire = message.wire()
        wire["attachments"] = [self.described(m, actor) for m in message.attachments or ()]
        return wire

    async def fresh(self, actor: Actor, attachment_id: str) -> dict[str, Any]:
        row = await self.store.run(_row, actor.tenant_id, attachment_id)
        if row is None:
            raise NotFound("no such attachment")
        await self._check_reader(actor, row)
        return self.described(meta_of(row), actor)

    async def _check_reader(self, actor: Actor, row: Attachment) -> None:
        if row.conversation_id is None:
            if not _uploaded_by(actor, row):
                raise Forbidden(_DENIED)
            return
        try:
            await access_conversation(self.directory, actor, row.conversation_id)
        except Forbidden:
            raise Forbidden(_DENIED) from None
        if actor.is_visitor and await self.store.run(_in_note, row):
            raise Forbidden(_DENIED)

    # -- the bytes ------------------------------------------------------------------
    async def content(
        self, attachment_id: str, tenant: str, participant: str, expires: str, mac: str
    ) -> Content:
        grant = self.links.verify(attachment_id, tenant, participant, expires, mac)
        row = await self.store.run(_readable_row, grant)
        blobs = self.blobs.get(row.storage) if row is not None else None
        if row is None or blobs is None:
            raise ExpiredUrl("this attachment URL is not valid")
        if blobs.kind == "db":
            data = await self.store.run(blobs.get, row.tenant_id, row.id)
        else:  # a bucket or a disk: not on a database thread
            data = await asyncio.to_thread(blobs.get, row.tenant_id, row.id)
        if data is None:
            log.error("attachment %s has no bytes in store %r", row.id, row.storage)
            raise ExpiredUrl("this attachment URL is not valid")
        return Content(row.name, row.mime, data)

    # -- garbage --------------------------------------------------------------------
    def collect_unclaimed(self, now_ms: int | None = None) -> int:
        """Delete uploads no committed message named within a day (blocking)."""
        cutoff = (now_ms if now_ms is not None else int(time.time() * 1000)) - UNCLAIMED_TTL_MS
        with cross_tenant():
            query: Any = (
                Attachment.select(Attachment.id, Attachment.tenant_id, Attachment.storage)
                .where(Attachment.message_id.is_null(), Attachment.created_ms < cutoff)
                .limit(1000)
                .tuples()
            )
            stale: list[tuple[str, str, str]] = list(query)
        for done, (attachment_id, tenant_id, storage) in enumerate(stale):
            scope = TenantScope(tenant_id)
            try:
                with db.atomic():
                    gone = (
                        scope.delete(Attachment)
                        .where(Attachment.id == attachment_id, Attachment.message_id.is_null())
                        .execute()
                    )
                    blobs = self.blobs.get(storage)
                    if gone and blobs is not None:
                        blobs.delete(tenant_id, attachment_id)
            except Unavailable:
                # The bucket is down: the row stays (rolled back) for the next sweep, so
                # no object is left without a row to find it by.
                log.warning("attachments: sweep paused, the %r store is unavailable", storage)
                return done
        return len(stale)


def _forget(blobs: BlobStore, tenant_id: str, attachment_id: str) -> None:
    try:
        blobs.delete(tenant_id, attachment_id)
    except Exception:  # the bytes stay behind, unnamed; say so rather than hide the cause
        log.warning("attachment %s: bytes left in store %r", attachment_id, blobs.kind)


def _readable_row(grant: Grant) -> Attachment | None:
    row = _row(grant.tenant_id, grant.attachment_id)
    return row if row is not None and _still_may_read(grant, row) else None


def _row(tenant_id: str, attachment_id: str) -> Attachment | None:
    return TenantScope(tenant_id).get_or_none(Attachment, Attachment.id == attachment_id[:26])


def _in_note(row: Attachment) -> bool:
    if row.message_id is None:
        return False
    message = (
        TenantScope(row.tenant_id)
        .select(Message, Message.kind)
        .where(Message.conversation_id == row.conversation_id, Message.seq == row.message_seq)
        .first()
    )
    return message is not None and message.kind == MessageKind.NOTE.value


def _still_may_read(grant: Grant, row: Attachment) -> bool:
    """The participant a URL was issued to may still read the attachment."""
    kind, _, who = grant.participant.partition(":")
    scope = TenantScope(row.tenant_id)
    if row.conversation_id is None:  # an unclaimed upload: its uploader only
        return who == row.uploader_id
    if kind == SenderType.VISITOR.value:
        if _in_note(row):  # visitors never see private notes, nor what they carry
            return False
        conv = scope.get_or_none(Conversation, Conversation.id == row.conversation_id)
        ref = (
            ConversationRef(conv.id, conv.tenant_id, conv.visitor_id, conv.site_id)
            if conv
            else None
        )
        return may_access(Actor(SenderType.VISITOR, who, row.tenant_id), ref)
    if kind == SenderType.AGENT.value:
        agent = scope.get_or_none(Agent, Agent.id == who)
        return agent is not None and not agent.disabled
    if kind == SenderType.BRIDGE.value:
        bridge = scope.get_or_none(Bridge, Bridge.id == who)
        return bridge is not None and bridge.revoked_at is None
    if kind == API_KEY:
        key = scope.get_or_none(ApiKey, ApiKey.id == who)
        return key is not None and key.revoked_at is None
    if kind == SenderType.OPERATOR.value:
        operator = Operator.get_or_none(Operator.id == who)  # not tenant data
        return operator is not None and not operator.disabled
    return False
