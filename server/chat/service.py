"""Chat actions: send, history, open, close, typing, read. Each emits its own events, only
after its commit (the gateway publishes nothing)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

import orjson

from server.bus import Bus
from server.chat import queries
from server.chat.access import access_cached, access_conversation
from server.chat.attachments import AttachmentService
from server.chat.directory import ConversationDirectory
from server.chat.events import publish_read, publish_typing
from server.chat.masking import MaskingPolicies
from server.chat.rating import RatingService, csat_offered
from server.chat.records import SendResult, StoredMessage
from server.chat.writer import ConversationClosed, GroupCommitWriter, PendingSend
from server.errors import BadRequest, ErrorCode, Forbidden, SteadyError
from server.ints import in_int64
from server.kernel import topics
from server.kernel.actors import Actor, ConversationRef
from server.kernel.enums import MessageKind, SenderType
from server.security.masking import MaskingPolicy
from server.storage.database import Store
from steadywire.events import ConvClosed, ConvOpened, ConvUpdated
from steadywire.server_frames import Sender

log = logging.getLogger(__name__)

CID_MAX_CHARS = 64
SYNC_DEFAULT_LIMIT = 100
SYNC_MAX_LIMIT = 500
# A page of history holds at most this many bytes of message frames (a 500-message page
# of long bodies was ~10 MB); past it, fewer messages and has_more (issue #11).
SYNC_MAX_BYTES = 256 * 2**10
# History pages read at once on a node. Each is Python work on a store thread, and every
# thread shares the interpreter lock with the event loop: many at once starved the loop
# (other clients' pings) while a few clients asked for page after page (issue #11).
HISTORY_READS_AT_ONCE = 2
OPEN_CACHE_SIZE = 100_000


class BodyTooLong(SteadyError):
    code, http_status = ErrorCode.BODY_TOO_LONG, 413


# What a body may weigh once final (masked), in UTF-8: sealed it grows by 4/3 plus about
# 80 bytes and must still fit MySQL's TEXT (65,535 bytes). Only bodies of over 12,000
# characters (a node's STEADY_BODY_MAX_CHARS allows up to 60,000) can reach it. A row that
# does not fit would fail the whole group-commit batch, other senders' messages included.
STORED_BODY_MAX_BYTES = 48_000

GREETING_CID = "steady:greeting"  # one greeting per conversation: the cid makes it idempotent


Attached = tuple[str, ...]  # ids of uploads a send names (server/chat/attachments.py)
ATTACHMENTS_PER_MESSAGE = 10
ATTACHMENT_ID_MAX_CHARS = 26


def check_attachment_ids(value: object) -> Attached:
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or len(value) > ATTACHMENTS_PER_MESSAGE
        or not all(isinstance(i, str) and 0 < len(i) <= ATTACHMENT_ID_MAX_CHARS for i in value)
    ):
        raise BadRequest(
            f"attachments must be a list of at most {ATTACHMENTS_PER_MESSAGE} ids",
            code=ErrorCode.BAD_FRAME,
        )
    return tuple(value)


class ConversationHooks(Protocol):
    """What routing does when a conversation starts, waits or ends (set by create_app, so
    chat does not depend on routing)."""

    async def conversation_started(self, tenant_id: str, conv: str) -> str | None: ...

    async def conversation_queued(self, tenant_id: str, conv: str) -> None: ...

    async def robot_takes(self, tenant_id: str, conv: str) -> bool: ...

    async def conversation_closed(self, tenant_id: str, conv: str) -> None: ...


class QueuedAnnotator(Protocol):
    """Routing's presence, as chat uses it: whether a queued conversation's visitor is
    online (routing.presence.Presence, given by create_app; chat sits below routing)."""

    async def annotate_queued(
        self, tenant_id: str, event: dict[str, Any] | None
    ) -> dict[str, Any] | None: ...


class _SenderGate:
    __slots__ = ("lock", "waiting")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.waiting = 0


class ChatService:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        directory: ConversationDirectory,
        writer: GroupCommitWriter,
        *,
        body_max_chars: int,
        presence: QueuedAnnotator | None = None,
    ):
        self.presence = presence  # adds visitor_online to conv.queued
        self.store = store
        self.bus = bus
        self.directory = directory
        self.writer = writer
        self.body_max_chars = body_max_chars
        self.masking = MaskingPolicies(store)  # per tenant, applied before storing
        self.ratings = RatingService(store, bus, directory, self.masking)
        self._background: set[asyncio.Task[None]] = set()
        self._open_by_visitor: dict[str, ConversationRef] = {}  # a guess, see _target
        # Senders with a send still being looked up: their next sends must queue behind it.
        self._looking_up: dict[str, _SenderGate] = {}
        self._history_reads = asyncio.Semaphore(HISTORY_READS_AT_ONCE)
        self.hooks: ConversationHooks | None = None
        self.attachments: AttachmentService | None = None  # set by create_app

    def frame_for(self, message: StoredMessage, receiver: Actor) -> bytes:
        """The message frame for one receiver: the shared bytes, unless the message has
        attachments, whose URLs are signed for this receiver."""
        if not message.attachments or self.attachments is None:
            return message.frame()
        return orjson.dumps(self.attachments.signed_wire(message, receiver))

    def wire_for(self, message: StoredMessage, receiver: Actor) -> dict[str, Any]:
        if not message.attachments or self.attachments is None:
            return message.wire()
        return self.attachments.signed_wire(message, receiver)

    # -- send ----------------------------------------------------------------------
    def check_send(
        self, actor: Actor, cid: object, body: object, kind: object, attached: Attached = ()
    ) -> tuple[str, str, str]:
        if not isinstance(cid, str) or not cid or len(cid) > CID_MAX_CHARS:
            raise BadRequest(
                f"cid must be a string of 1..{CID_MAX_CHARS} characters", code=ErrorCode.BAD_FRAME
            )
        if body is None and attached:
            body = ""
        if not isinstance(body, str) or not (body.strip() or attached):
            raise BadRequest("body must be a non-empty string", code=ErrorCode.BAD_FRAME)
        kind = MessageKind.TEXT.value if kind is None else kind
        if kind not in (MessageKind.TEXT.value, MessageKind.NOTE.value):
            raise BadRequest("kind must be text or note", code=ErrorCode.BAD_FRAME)
        if kind == MessageKind.NOTE.value and actor.is_visitor:
            raise Forbidden("visitors cannot write notes")
        if len(body) > self.body_max_chars:
            raise BodyTooLong(f"body is longer than {self.body_max_chars} characters")
        return cid, body, kind

    def send(
        self,
        actor: Actor,
        conv: object,
        cid: object,
        body: object,
        kind: object = None,
        attachments: object = None,
    ) -> asyncio.Future[SendResult]:
        """Store a message exactly once; the future resolves after COMMIT.

        One path: find the conversation and the tenant's masking (``_target_cached``,
        else ``_target``), mask the body (neither the database nor any recipient sees
        what is masked), hand it to the writer (``_store``, which also reopens a
        visitor's closed conversation). When this node's caches know the target and
        nothing of this sender is still being looked up (the common case), all of it
        happens now and no task is created: the caller attaches a callback and keeps
        reading its socket. Otherwise the lookup runs in a task, queued behind the
        sender's earlier lookups, so one sender's sends reach the writer in the order
        they were made. What a committed visitor message starts (the greeting,
        ``conv.queued``, offers) follows on its own (``_after_commit``).
        """
        future = self._send(actor, conv, cid, body, kind, attachments)
        future.add_done_callback(self._committed)
        return future

    def _send(
        self,
        actor: Actor,
        conv: object,
        cid: object,
        body: object,
        kind: object,
        attachments: object,
    ) -> asyncio.Future[SendResult]:
        attached = check_attachment_ids(attachments)
        cid, body, kind = self.check_send(actor, cid, body, kind, attached)
        if actor.id not in self._looking_up:
            target = self._target_cached(actor, conv)
            if target is not None:
                masking, conv_id = target
                return self._store(actor, conv_id, cid, masking.apply(body), kind, attached)
        return asyncio.ensure_future(
            self._look_up_and_store(actor, conv, cid, body, kind, attached)
        )

    def _target_cached(self, actor: Actor, conv: object) -> tuple[MaskingPolicy, str] | None:
        """Where a send goes, and its tenant's masking, from this node's caches alone;
        None when a cache has no answer (``_target`` then asks the database)."""
        masking = self.masking.cached(actor.tenant_id)
        if masking is None:
            return None
        if conv is None and actor.is_visitor:
            guess = self._open_by_visitor.get(actor.id)
            return None if guess is None else (masking, guess.id)
        if isinstance(conv, str) and conv and access_cached(self.directory, actor, conv):
            return masking, conv
        return None

    async def _target(self, actor: Actor, conv: object) -> tuple[MaskingPolicy, str]:
        masking = await self.masking.policy(actor.tenant_id)
        if conv is None and actor.is_visitor:
            # The visitor's open conversation. A stale guess is harmless: ``_store``
            # reopens a closed conversation.
            ref = self._open_by_visitor.get(actor.id) or await self.open_conversation(actor)
        else:
            ref = await access_conversation(self.directory, actor, conv)
        return masking, ref.id

    async def _look_up_and_store(
        self, actor: Actor, conv: object, cid: str, body: str, kind: str, attached: Attached
    ) -> SendResult:
        gate = self._looking_up.get(actor.id)
        if gate is None:
            gate = self._looking_up[actor.id] = _SenderGate()
        gate.waiting += 1
        try:
            async with gate.lock:  # FIFO: this sender's later sends queue behind this lookup
                masking, target = await self._target(actor, conv)
                stored = self._store(actor, target, cid, masking.apply(body), kind, attached)
        finally:
            gate.waiting -= 1
            if not gate.waiting:
                del self._looking_up[actor.id]
        return await stored

    def _store(
        self, actor: Actor, conv: str, cid: str, body: str, kind: str, attached: Attached
    ) -> asyncio.Future[SendResult]:
        """Hand a masked send to the writer. A visitor writing into its closed
        conversation gets a new, linked one: the same answer on every path and node."""
        stored = self._submit(actor, conv, cid, body, kind, attached)
        if not actor.is_visitor:
            return stored
        outcome: asyncio.Future[SendResult] = asyncio.get_running_loop().create_future()

        def settle(done: asyncio.Future[SendResult]) -> None:
            error = None if done.cancelled() else done.exception()
            if isinstance(error, ConversationClosed):
                retry = asyncio.ensure_future(
                    self._reopen_and_submit(actor, conv, cid, body, kind, attached)
                )
                retry.add_done_callback(lambda r: _copy_outcome(r, outcome))
            else:
                _copy_outcome(done, outcome)

        stored.add_done_callback(settle)
        return outcome

    async def _reopen_and_submit(
        self, actor: Actor, closed: str, cid: str, body: str, kind: str, attached: Attached
    ) -> SendResult:
        ref = await self.open_conversation(actor, previous=closed)
        return await self._submit(actor, ref.id, cid, body, kind, attached)

    def _submit(
        self, actor: Actor, conv: str, cid: str, body: str, kind: str, attached: Attached = ()
    ) -> asyncio.Future[SendResult]:
        if len(body) * 4 > STORED_BODY_MAX_BYTES and len(body.encode()) > STORED_BODY_MAX_BYTES:
            raise BodyTooLong(f"body is larger than {STORED_BODY_MAX_BYTES} bytes in UTF-8")
        future: asyncio.Future[SendResult] = asyncio.get_running_loop().create_future()
        return self.writer.submit(
            PendingSend(
                tenant_id=actor.tenant_id,
                conv=conv,
                kind=kind,
                sender_type=actor.type.value,
                sender_id=actor.id,
                sender_name=actor.name,
                cid=cid,
                body=body,
                future=future,
                attachment_ids=attached,
                audit_as=actor if actor.audit_ip is not None else None,
            )
        )

    def _committed(self, done: asyncio.Future[SendResult]) -> None:
        """A send settled: once stored, its effects follow, after the callbacks the caller
        attached (the sender's ack goes out before agents hear of the message)."""
        if done.cancelled() or done.exception() is not None:
            return
        asyncio.get_running_loop().call_soon(self._after_commit, done.result())

    def _after_commit(self, result: SendResult) -> None:
        """Tell the tenant's agents about a waiting conversation.

        Its first visitor message announces it (``conv.queued``); later ones, while nobody
        has accepted it, are sent as ``conv.updated`` so every agent's queue stays current.
        """
        message = result.message
        if result.duplicate or message.sender_type != SenderType.VISITOR.value:
            return
        if message.seq == 1:
            self._spawn(self._start_and_announce(message.tenant_id, message.conv))
        elif message.seq == 2 and result.queued:
            # The first visitor message when the greeting went first (seq 1), else a
            # second message while queued: one look at seq 1 tells which.
            self._spawn(self._second_message(message))
        elif result.queued:
            self._publish_updated(message)

    def _publish_updated(self, message: StoredMessage) -> None:
        updated = ConvUpdated(message.wire_message(), message.seq)
        self.bus.publish(topics.agents(message.tenant_id), updated.to_event(message.conv))

    async def _second_message(self, message: StoredMessage) -> None:
        try:
            greeted = await self.store.run(
                queries.greeted_first, message.tenant_id, message.conv, GREETING_CID
            )
        except SteadyError:
            greeted = False
        if greeted:
            await self._announce_and_offer(message.tenant_id, message.conv)
        else:
            self._publish_updated(message)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _greet(self, tenant_id: str, conv: str) -> None:
        """Routing settles the conversation (department, offline flag) and may greet."""
        if self.hooks is None:
            return
        try:
            greeting = await self.hooks.conversation_started(tenant_id, conv)
            if greeting:
                await self.send_system(tenant_id, conv, GREETING_CID, greeting)
        except SteadyError as err:
            log.warning("could not start conversation %s: %s", conv, err.message)

    async def _start_and_announce(self, tenant_id: str, conv: str) -> None:
        """The first visitor message is seq 1: the conversation was not greeted when it
        was opened (no greeting configured, or the node stopped in between), so it is
        settled now (greeted after the message); then agents hear of it, and routing may
        offer it."""
        await self._greet(tenant_id, conv)
        await self._announce_and_offer(tenant_id, conv)

    async def _announce_and_offer(self, tenant_id: str, conv: str) -> None:
        await self._announce_queued(tenant_id, conv)
        if self.hooks is not None:
            try:
                # The AI robot may take it first (its site's ai_mode): then nobody is offered it.
                if not await self.hooks.robot_takes(tenant_id, conv):
                    await self.hooks.conversation_queued(tenant_id, conv)
            except SteadyError as err:
                log.warning("could not offer conversation %s: %s", conv, err.message)

    async def _announce_queued(self, tenant_id: str, conv: str) -> None:
        try:
            event = await self.store.run(queries.queued_event, tenant_id, conv)
        except SteadyError:
            log.warning("could not announce conversation %s", conv)
            return
        if event and self.presence is not None:
            await self.presence.annotate_queued(tenant_id, event)
        if event:
            self.bus.publish(topics.agents(tenant_id), event)

    def send_system(
        self, tenant_id: str, conv: str, cid: str, body: str
    ) -> asyncio.Future[SendResult]:
        """A ``system`` message in the stream (greetings, notices); idempotent on ``cid``."""
        system = Actor(SenderType.SYSTEM, "system", tenant_id, "")
        return self._submit(system, conv, cid, body[: self.body_max_chars], MessageKind.TEXT.value)

    # -- conversations ------------------------------------------------------------------
    async def open_conversation(
        self, visitor: Actor, previous: str | None = None
    ) -> ConversationRef:
        """The visitor's open conversation, created if there is none (one per visitor)."""
        ref, created = await self.store.run(queries.open_conversation, visitor, previous)
        self.directory.remember(ref)
        self._open_by_visitor[visitor.id] = ref
        if len(self._open_by_visitor) > OPEN_CACHE_SIZE:
            self._open_by_visitor.pop(next(iter(self._open_by_visitor)))
        if created:
            self.bus.publish(topics.visitor(visitor.id), ConvOpened(previous).to_event(ref.id))
            # The greeting is stored (seq 1) before the message that opened the
            # conversation is handed to the writer: the visitor reads it first and agents'
            # previews end with the visitor's words (issue #19).
            await self._greet(visitor.tenant_id, ref.id)
        return ref

    async def current_conversation(self, visitor: Actor) -> str | None:
        return await self.store.run(queries.current_conversation, visitor)

    async def close(self, actor: Actor, conv: object) -> tuple[dict[str, Any], bool]:
        """Close a conversation; returns the event and whether this call closed it."""
        ref = await access_conversation(self.directory, actor, conv)
        closed = await self.store.run(queries.close_conversation, ref, actor)
        # csat: the visitor is offered a rating (see chat/rating.py)
        csat = closed and await self.store.run(csat_offered, ref)
        event = ConvClosed(Sender(**actor.wire()), csat).to_event(ref.id)
        if closed:
            self.bus.publish(topics.conversation(ref.id), event)
            self.bus.publish(topics.agents(ref.tenant_id), event)
            if self.hooks is not None:
                self._spawn(self._closed(ref.tenant_id, ref.id))
        return event, closed

    async def _closed(self, tenant_id: str, conv: str) -> None:
        assert self.hooks is not None
        try:
            await self.hooks.conversation_closed(tenant_id, conv)
        except SteadyError as err:
            log.warning("after closing %s: %s", conv, err.message)

    # -- reading -----------------------------------------------------------------------
    async def history(
        self, actor: Actor, conv: object, after: object, limit: object
    ) -> tuple[ConversationRef, list[StoredMessage], bool]:
        after_seq = _int_or(after, 0, "after")
        count = _int_or(limit, SYNC_DEFAULT_LIMIT, "limit")
        count = max(1, min(count, SYNC_MAX_LIMIT))
        ref = await access_conversation(self.directory, actor, conv)
        async with self._history_reads:
            page, has_more = await self.store.run(
                queries.message_page,
                ref,
                max(after_seq, 0),
                count,
                not actor.is_visitor,
                SYNC_MAX_BYTES,
            )
        return ref, page, has_more

    async def messages_after(
        self, ref: ConversationRef, after: int, limit: int, include_notes: bool
    ) -> list[StoredMessage]:
        return await self.store.run(queries.messages_after, ref, after, limit, include_notes)

    async def mark_read(
        self, actor: Actor, conv: object, seq: object
    ) -> tuple[ConversationRef, int]:
        """Record how far ``actor`` has read; the other participants are told (``read``)."""
        ref = await access_conversation(self.directory, actor, conv)
        position = _int_or(seq, 0, "seq")
        if actor.type is not SenderType.AI:  # the robot's read is relayed, not the agents' mark
            await self.store.run(queries.mark_read, ref, actor, position)
        publish_read(self.bus, ref, actor, position)
        return ref, position

    async def typing(self, actor: Actor, conv: object, on: object) -> ConversationRef:
        """Tell the conversation's participants that ``actor`` is (not) typing; nothing is
        stored."""
        ref = await access_conversation(self.directory, actor, conv)
        if not isinstance(on, bool):
            raise BadRequest("on must be true or false", code=ErrorCode.BAD_FRAME)
        publish_typing(self.bus, ref, actor, on)
        return ref


def _copy_outcome(source: asyncio.Future[SendResult], target: asyncio.Future[SendResult]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


def _int_or(value: object, default: int, name: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not in_int64(value):
        raise BadRequest(f"{name} must be a 64-bit integer", code=ErrorCode.BAD_FRAME)
    return value
