"""The bridge: Steadydesk's conversations into chat-app threads and agents' replies back.

Steadydesk → platform: every ``message`` (live, replayed on ``resume`` or fetched with
``sync``) is accepted into the durable outbox in seq order (:meth:`StateStore.accept`),
then :class:`~bots.core.poster.Poster` posts it. The resume cursor moves in the same
transaction, so after any crash the server replays exactly what is not yet queued.

Platform → Steadydesk: the adapter calls :meth:`reply`, :meth:`note`, :meth:`command`
and :meth:`link` *before* it acknowledges the platform's delivery; each action is stored
(keyed by a ``cid`` made from the platform's message id) before the platform gets its
2xx, then sent with ``as`` = the linked agent. The server's ``cid`` idempotency makes
every resend harmless, and the echo of our own reply is recognised by its ``cid``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from bots.core.backoff import Backoff
from bots.core.breakers import Breakers
from bots.core.client import ApiError, BridgeRevoked, NotConnected, SteadyClient
from bots.core.commands import (
    Intent,
    Request,
    Target,
    no_single_match,
    resolve_target,
    transfer_options,
)
from bots.core.config import BridgeConfig
from bots.core.directory import Directory
from bots.core.metrics import BridgeMetrics
from bots.core.model import (
    Author,
    AuthorKind,
    ChatUser,
    Conversation,
    FileRef,
    IncomingFile,
    Item,
    ItemKind,
    OpKind,
    ThreadRef,
    Visitor,
)
from bots.core.platform import (
    Platform,
    PlatformError,
    PlatformRefused,
    PlatformUnavailable,
    RateLimited,
)
from bots.core.poster import Poster
from bots.core.store import StateStore
from steadywire import (
    Accept,
    Ack,
    Close,
    ConvAssigned,
    ConvClosed,
    ConvQueued,
    ConvTransferred,
    ConvUpdated,
    Error,
    ErrorCode,
    Event,
    Message,
    MessageKind,
    Send,
    Sync,
    Transfer,
    Welcome,
    from_object,
)
from steadywire.client_frames import ATTACHMENTS_MAX
from steadywire.parse import Side

log = logging.getLogger(__name__)

RESEND_AFTER_SECS = 2.0
PRUNE_EVERY_SECS = 600.0
PLATFORM_CHECK_SECS = 30.0
SYNC_PAGE = 500
LIST_PAGE = 200  # GET /api/v1/conversations pages at most this many
CID_MAX = 64
TELL_ATTEMPTS = 5
TELL_WAIT_MAX_SECS = 60.0

EDIT_NOTICE = "Edits and deletions are not passed on: the visitor already has the original message."


@dataclass
class Health:
    server: str = "connecting"
    platform: str = "starting"

    @property
    def ok(self) -> bool:
        return self.server == "OK" and self.platform == "OK"


class Bridge:
    def __init__(self, config: BridgeConfig, platform: Platform) -> None:
        self.config = config
        self.platform = platform
        self.metrics = BridgeMetrics(platform.kind)
        self.store = StateStore(config.state_location)
        self.health = Health()
        self.breakers = Breakers(
            threshold=max(1, config.breaker_threshold),
            reset_secs=config.breaker_reset_secs,
            exclude=[RateLimited, PlatformRefused],
            on_change=self.metrics.set_breaker,
        )
        self.client = SteadyClient(
            config.server,
            config.token,
            self,
            self.store.resume_map,
            self.breakers,
            backoff=Backoff(config.backoff_base_secs, config.backoff_cap_secs),
            on_retry=lambda reason: self.metrics.retry("server", reason),
        )
        self.poster = Poster(
            self.store,
            platform,
            self.breakers,
            self.metrics,
            concurrency=config.post_concurrency,
            on_platform=self._platform_state,
            fetch_file=self.client.fetch_file,
        )
        self.directory = Directory(self.client)
        self._syncing: set[str] = set()
        self._bridge_id = ""  # from the welcome
        self._scope: frozenset[str] = frozenset()  # the bridge's departments; empty: all
        self._commanders: dict[str, ChatUser] = {}  # conv -> who gave its last command
        self._handed_to: dict[str, str] = {}  # conv -> the agent it was just transferred to
        self._tasks: list[asyncio.Task[Any]] = []
        self._background: set[asyncio.Task[None]] = set()  # tells, back-fill

    # -- running ----------------------------------------------------------------------
    async def run(self) -> None:
        """Run until stopped; raises BridgeRevoked when the server refuses the token."""
        from bots.core.http import HttpEndpoint  # sanic only where the endpoint runs

        await self.store.open()
        endpoint = HttpEndpoint(self)
        await endpoint.start(self.config.host, self.config.port)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.poster.run()),
            loop.create_task(self._housekeeping()),
            loop.create_task(self._refresh_links()),
        ]
        try:
            await self.platform.start(self)
            await self.client.run()
        finally:
            await self.stop()
            await endpoint.stop()
            await self.store.close()

    async def stop(self) -> None:
        await self.client.aclose()
        await self.platform.stop()
        await self.poster.stop()
        tasks = [*self._tasks, *self._background]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def _housekeeping(self) -> None:
        since_prune = PRUNE_EVERY_SECS
        while True:
            try:
                async with self.breakers.guard("platform"):
                    await self.platform.check()
                self._platform_state(True, "")
            except PlatformError as exc:
                self._platform_state(False, str(exc) or type(exc).__name__)
            except Exception as exc:  # BreakerOpen
                self._platform_state(False, str(exc))
            if since_prune >= PRUNE_EVERY_SECS:
                await self.store.prune()
                since_prune = 0.0
            await asyncio.sleep(PLATFORM_CHECK_SECS)
            since_prune += PLATFORM_CHECK_SECS

    async def _refresh_links(self) -> None:
        """The server's links are the truth, and only the bridge knows which chat-app user
        wrote a reply (the server checks ``as`` per agent): an admin's unlink must reach
        the bridge even while it stays connected."""
        while True:
            await asyncio.sleep(max(1.0, self.config.links_refresh_secs))
            if self.client.live:
                await self._sync_links()

    def _platform_state(self, ok: bool, problem: str) -> None:
        self.health.platform = "OK" if ok else (problem or "unavailable")

    def breaker_states(self) -> dict[str, str]:
        return {
            "server": self.breakers.state("server"),
            "platform": self.breakers.state("platform"),
        }

    # -- Steadydesk → platform (ServerListener) ---------------------------------------
    def on_link(self, ok: bool, problem: str) -> None:
        self.health.server = "OK" if ok else (problem or "disconnected")
        self.metrics.connected.set(1 if ok else 0)

    async def on_welcome(self, welcome: Welcome) -> None:
        self._syncing.clear()
        bridge_id, scope = welcome.you.get("id"), welcome.you.get("departments")
        self._bridge_id = bridge_id if isinstance(bridge_id, str) else ""
        self._scope = frozenset(d for d in scope or [] if isinstance(d, str))
        for pending in await self.store.pending_inbound():
            await self._send_inbound(pending.cid, pending.frame)
        self._in_background(self._after_welcome())

    async def _after_welcome(self) -> None:
        await self._sync_links()
        open_now = await self._backfill()
        if open_now is not None:
            await self._close_finished(open_now)

    async def _sync_links(self) -> None:
        """The server's links of this bridge replace ours: an agent linked through another
        state store (a new host, a lost file) stays linked, and one an admin unlinked is
        told how to link instead of being refused."""
        if not self._bridge_id:
            return
        asked_at = time.time()
        try:
            body = await self.client.request("GET", f"/api/v1/bridges/{self._bridge_id}/links")
        except ApiError as exc:
            log.warning("cannot read this bridge's links (%s); keeping the local ones", exc)
            return
        links: dict[str, str] = {}
        for row in body.get("links", []) if isinstance(body, dict) else []:
            agent = row.get("agent") if isinstance(row, dict) else None
            if isinstance(agent, dict) and isinstance(agent.get("id"), str):
                links[str(row.get("external_user"))] = agent["id"]
        await self.store.replace_links(links, older_than=asked_at)

    async def _backfill(self) -> set[str] | None:
        """Open conversations the bridge has no thread for yet (opened while it was down),
        every page of them, oldest first; returns the ids listed open (None when the list
        could not be read)."""
        listed: set[str] = set()
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"status": "open", "order": "oldest", "limit": LIST_PAGE}
            try:
                page = await self.client.request(
                    "GET",
                    "/api/v1/conversations",
                    params={**params, "cursor": cursor} if cursor else params,
                )
            except ApiError as exc:
                log.info("no conversation list for back-fill (%s); the server's feed has it", exc)
                return None
            rows = page.get("conversations") if isinstance(page, dict) else None
            for row in rows if isinstance(rows, list) else []:
                if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                    continue
                conv = row["id"]
                listed.add(conv)
                if await self.store.thread(conv) is None:
                    await self._ensure_thread(conv, row)
                    self._request_sync(conv, 0)
            cursor = page.get("next_cursor") if isinstance(page, dict) else None
            if not isinstance(cursor, str) or not cursor:
                return listed

    async def _close_finished(self, open_now: set[str]) -> None:
        """Threads still open here whose conversation closed while the bridge was away (the
        server replays those named in ``resume`` to their end, with no ``conv.closed``):
        their last messages, then the close; and they leave the ``resume`` map."""
        for conv in await self.store.resume_map():
            if conv in open_now:
                continue
            try:
                detail = await self.client.request("GET", f"/api/v1/conversations/{conv}")
                if not isinstance(detail, dict) or detail.get("status") != "closed":
                    continue
                await self._read_to_end(conv)
            except ApiError as exc:
                log.info("cannot tell whether %s is closed (%s)", conv, exc)
                continue
            if await self.store.set_status(conv, "closed", OpKind.CLOSE, {"by": ""}):
                self.poster.kick(conv)

    async def _read_to_end(self, conv: str) -> None:
        """Queue what is left of a conversation, read over REST (its cursor dedupes)."""
        while (thread := await self.store.thread(conv)) is not None:
            page = await self.client.request(
                "GET",
                f"/api/v1/conversations/{conv}/messages",
                params={"after": thread.cursor, "limit": SYNC_PAGE},
            )
            raw = page.get("messages") if isinstance(page, dict) else None
            messages = [Message.from_wire(m) for m in raw or [] if isinstance(m, dict)]
            if not messages:
                return
            accepted = await self.store.accept(conv, [_item(m) for m in messages])
            if not page.get("has_more") or accepted.cursor == thread.cursor:
                return  # the end, or a page that moved nothing on: ask no more

    async def on_messages(
        self,
        conv: str,
        messages: list[Message],
        *,
        more: bool,
        hint: dict[str, Any] | None = None,
    ) -> None:
        """Queue a conversation's messages; a new conversation's thread (``hint``: what is
        known of it) is recorded with them, so its root shows the first one."""
        self.metrics.received.labels(self.platform.kind, "steadydesk").inc(len(messages))
        if not messages and not more:
            self._syncing.discard(conv)
            return
        thread = await self.store.thread(conv)
        start: tuple[Conversation, str] | None = None
        if thread is None:
            first = messages[0]
            if hint is None and first.sender.type == "visitor":
                hint = {"visitor": {"name": first.sender.name}}
            conversation, previous = await self._conversation(conv, hint or {})
            if not await self._continues(conversation, previous):
                start = conversation, self.platform.channel_for(conversation.department)
        # A closed thread stays closed: what arrives after conv.closed is the rest of the
        # closed conversation (a conversation never reopens on the server; a visitor who
        # writes again gets a new one, linked by ``previous``).
        accepted = await self.store.accept(
            conv,
            [_item(m) for m in messages],
            start=start,
            intro=self.platform.intro(start[0]) if start else None,
        )
        if more:
            self._request_sync(conv, accepted.cursor, force=True)
        elif accepted.gap_after is not None:
            self._request_sync(conv, accepted.cursor)
        else:
            self._syncing.discard(conv)
        self.poster.kick(conv)

    async def on_event(self, event: Event) -> None:
        conv = event.conv
        if not conv:
            return
        details = event.details()
        if isinstance(details, ConvQueued):
            hint = {"visitor": dict(details.visitor), "department": details.department}
            if details.messages:
                await self.on_messages(conv, list(details.messages), more=False, hint=hint)
            else:
                await self._ensure_thread(conv, hint)
        elif isinstance(details, ConvUpdated) and details.message is not None:
            await self.on_messages(conv, [details.message], more=False)
        elif isinstance(details, ConvAssigned):
            await self._catch_up(conv, details.last_seq)
            if self._handed_to.pop(conv, None) != details.agent.id:  # not just a transfer's echo
                name = details.agent.name or "an agent"
                await self.store.queue_notice(conv, f"Claimed by {name}.")
            self.poster.kick(conv)
        elif isinstance(details, ConvTransferred):
            await self._transferred(conv, details)
        elif isinstance(details, ConvClosed):
            by = details.by.name or details.by.type or "someone"
            if await self.store.set_status(conv, "closed", OpKind.CLOSE, {"by": by}):
                self.poster.kick(conv)

    async def _transferred(self, conv: str, details: ConvTransferred) -> None:
        await self._catch_up(conv, details.last_seq)
        department = details.to_department
        if department:
            name = details.to_department_name or await self.directory.department_name(department)
            await self.store.queue_notice(conv, f"Transferred to {name}.")
            if self._scope and department not in self._scope:
                # The server sends nothing more of it: say so, and stop resuming it.
                await self.store.set_status(
                    conv,
                    "closed",
                    OpKind.NOTICE,
                    {"text": f"{name} is outside this bridge's departments: it goes on there."},
                )
            else:
                await self.store.move_thread(
                    conv, department, self.platform.channel_for(department)
                )
        else:
            target = details.to_agent_sender
            self._handed_to[conv] = target.id if target else ""  # its conv.assigned follows
            agent = (target.name if target else "") or "another agent"
            await self.store.queue_notice(conv, f"Transferred to {agent}.")
        self.poster.kick(conv)

    async def _catch_up(self, conv: str, last_seq: int | None) -> None:
        thread = await self.store.thread(conv)
        if thread is not None and last_seq is not None and thread.cursor < last_seq:
            self._request_sync(conv, thread.cursor)

    async def _ensure_thread(self, conv: str, hint: dict[str, Any]) -> None:
        """A thread for a conversation whose messages are not here yet (they follow by
        replay or ``sync``; the sweep posts the root alone if they never come)."""
        if await self.store.thread(conv) is not None:
            return
        conversation, previous = await self._conversation(conv, hint)
        if await self._continues(conversation, previous):
            return
        await self.store.start_thread(
            conversation,
            self.platform.channel_for(conversation.department),
            self.platform.intro(conversation),
        )

    async def _conversation(
        self, conv: str, hint: dict[str, Any]
    ) -> tuple[Conversation, str | None]:
        """What the root shows: ``hint``, completed from the conversation's detail when the
        visitor's page is not in it (``conv.queued`` may come before the page is known)."""
        info = hint
        if (
            not isinstance(hint.get("visitor"), dict)
            or not hint["visitor"].get("page_url")
            or (self.platform.continues_previous and "previous" not in hint)
        ):
            with contextlib.suppress(ApiError):
                detail = await self.client.request("GET", f"/api/v1/conversations/{conv}")
                if isinstance(detail, dict):
                    info = {**hint, **{k: v for k, v in detail.items() if v is not None}}
        department = info.get("department")
        department = department if isinstance(department, str) else None
        previous = info.get("previous")
        return (
            Conversation(conv, Visitor.from_json(info.get("visitor")), department),
            previous if isinstance(previous, str) else None,
        )

    async def _continues(self, conversation: Conversation, previous: str | None) -> bool:
        """On a platform that asks for it, a follow-up conversation goes on in the thread
        of the one it follows (reopened there); False when it needs a thread of its own."""
        if not self.platform.continues_previous or previous is None:
            return False
        channel = self.platform.channel_for(conversation.department)
        intro = self.platform.intro(conversation)
        if not await self.store.continue_thread(conversation, previous, channel, intro):
            return False
        self.poster.kick(conversation.id)
        return True

    def _request_sync(self, conv: str, after: int, *, force: bool = False) -> None:
        if conv in self._syncing and not force:
            return
        self._syncing.add(conv)
        asyncio.get_running_loop().create_task(self._send(Sync(conv, after, SYNC_PAGE)))

    async def _send(self, frame: Any) -> bool:
        try:
            await self.client.send(frame)
            return True
        except NotConnected:
            return False  # on_welcome / resume covers it

    async def on_ack(self, ack: Ack) -> None:
        inbound = await self.store.inbound(ack.cid)
        if inbound is not None and inbound.state == "pending":
            await self.store.inbound_finished(ack.cid, "acked", ack.seq)

    async def on_error(self, error: Error) -> None:
        code = error.error_code
        if error.cid:
            inbound = await self.store.inbound(error.cid)
            if inbound is None or inbound.state != "pending":
                return
            if code is not None and code.retryable:
                self.metrics.retry("server", str(code))
                asyncio.get_running_loop().call_later(
                    RESEND_AFTER_SECS, self._resend_later, inbound.cid, inbound.frame
                )
                return
            await self.store.inbound_finished(error.cid, "refused")
            author = ChatUser.from_json(inbound.reply_to)
            if code is ErrorCode.FORBIDDEN:  # unlinked meanwhile? then say how to link
                await self._sync_links()
                if await self.store.agent_for(author.external) is None:
                    await self._tell(author, self.platform.link_help)
                    return
            await self._tell(author, f"Not sent to Steadydesk ({error.code}): {error.message}")
            return
        if error.conv:
            if code is ErrorCode.FORBIDDEN and error.conv in self._syncing:
                self._syncing.discard(error.conv)
            user = self._commanders.pop(error.conv, None)
            if user is not None:
                await self._tell(user, f"Steadydesk said no ({error.code}): {error.message}")
            elif code in (ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND):
                # A resume the bridge may no longer make (out of its scope): stop asking.
                await self.store.set_status(
                    error.conv,
                    "closed",
                    OpKind.NOTICE,
                    {"text": "This conversation left the bridge's scope."},
                )
                self.poster.kick(error.conv)

    def _resend_later(self, cid: str, frame: dict[str, Any]) -> None:
        asyncio.get_running_loop().create_task(self._send_inbound(cid, frame))

    async def _send_inbound(self, cid: str, frame: dict[str, Any]) -> None:
        sent = await self._send(from_object(frame, Side.CLIENT))
        if sent and frame.get("type") != "send":
            await self.store.inbound_finished(cid, "sent")  # commands get no ack

    # -- platform → Steadydesk (called by adapters before they acknowledge) -----------
    async def first_delivery(self, event_id: str) -> bool:
        """False for a platform event id seen before (a retry or a duplicate)."""
        if await self.store.first_sight(event_id):
            return True
        self.metrics.duplicates.inc()
        return False

    async def delivered_before(self, event_id: str) -> bool:
        """True for a platform event id already handled (see :meth:`delivered`)."""
        if await self.store.seen(event_id):
            self.metrics.duplicates.inc()
            return True
        return False

    async def delivered(self, event_id: str) -> None:
        """An event has been handled: :meth:`delivered_before` says so from now on. Marked
        after handling, not before, so a crash in between redelivers it rather than losing
        it (the actions it led to are keyed by ``cid`` and happen once)."""
        await self.store.remember(event_id)

    async def conversation_at(self, thread: ThreadRef) -> str | None:
        record = await self.store.thread_by_root(thread.channel, thread.root)
        return record.conv if record is not None else None

    async def reply(
        self,
        thread: ThreadRef,
        user: ChatUser,
        text: str,
        message_id: str,
        files: Sequence[IncomingFile] = (),
    ) -> None:
        """A thread reply by a chat-app user (``message_id``: the platform's, unique),
        with the files posted with it."""
        conv = await self.conversation_at(thread)
        if conv is None:
            await self._moved_elsewhere(thread, user)
            return
        request = self.platform.read_request(text)
        if request is None and files and not text.strip():
            request = Request(Intent.REPLY, "")  # a file alone is a reply
        if request is None:
            await self._tell(user, self.platform.usage)
            return
        await self.act(conv, user, request, message_id, thread, files)

    async def _moved_elsewhere(self, thread: ThreadRef, user: ChatUser) -> None:
        """A reply in a thread its conversation left for another channel: say where it is
        (not sent: the visitor's thread is the new one, and others read that one)."""
        conv = await self.store.former_thread(thread.channel, thread.root)
        current = await self.store.thread(conv) if conv else None
        if current is None or current.ref is None:
            return
        link = await self.platform.thread_link(current.ref)
        await self._tell(
            user,
            "This conversation was transferred and goes on in another thread"
            + (f": {link}" if link else "")
            + ". Your reply here was not sent; write it there.",
        )

    async def transfer_choices(self, user: ChatUser) -> tuple[list[Target], list[Target]] | None:
        """The departments and agents (with presence) a linked user may transfer to; None
        after telling an unlinked user how to link, or anyone why there is no list."""
        if await self.store.agent_for(user.external) is None:
            await self._tell(user, self.platform.link_help)
            return None
        try:
            agents, departments = await self.directory.listing()
        except ApiError as exc:
            await self._tell(user, f"Cannot list agents right now ({exc.code}).")
            return None
        return transfer_options(agents, departments)

    async def act(
        self,
        conv: str,
        user: ChatUser,
        request: Request,
        message_id: str,
        thread: ThreadRef | None = None,
        files: Sequence[IncomingFile] = (),
    ) -> None:
        self.metrics.received.labels(self.platform.kind, "platform").inc()
        agent = await self.store.agent_for(user.external)
        if agent is None:
            await self._tell(user, self.platform.link_help)
            return
        cid = self._cid(message_id)
        frame: Any
        if request.intent in (Intent.REPLY, Intent.NOTE):
            kind = MessageKind.NOTE if request.intent is Intent.NOTE else MessageKind.TEXT
            ids = await self._uploaded(conv, agent, user, files)
            if ids is None:
                return
            frame = Send(cid, request.text, conv, kind, attachments=ids, as_agent=agent)
        elif request.intent is Intent.CLAIM:
            frame = Accept(conv, as_agent=agent)
        elif request.intent is Intent.CLOSE:
            frame = Close(conv, as_agent=agent)
        elif request.target is not None:  # picked from a list: no name to look up
            frame = _transfer(conv, request.target, agent)
        else:
            frame = await self._transfer_frame(conv, user, request.text, agent)
            if frame is None:
                return
        if request.intent not in (Intent.REPLY, Intent.NOTE):
            self._commanders[conv] = user
        reply_to = user.to_json()
        if await self.store.record_inbound(
            cid,
            conv,
            frame.to_wire(),
            reply_to,
            channel=thread.channel if thread else "",
            platform_id=message_id,
        ):
            await self._send_inbound(cid, frame.to_wire())

    async def _uploaded(
        self, conv: str, agent: str, user: ChatUser, files: Sequence[IncomingFile]
    ) -> tuple[str, ...] | None:
        """The files fetched from the platform and uploaded to Steadydesk as ``agent``,
        before the ``send`` naming them is stored (an upload no send names is collected
        after a day). None, after telling the user, when one cannot be."""
        ids: list[str] = []
        for file in files[:ATTACHMENTS_MAX]:
            try:
                ids.append(await self.client.upload(conv, agent, file.name, await file.fetch()))
            except ApiError as exc:
                await self._tell(user, f"Not sent to Steadydesk: {file.name} ({exc.code}).")
                return None
            except PlatformError as exc:
                await self._tell(user, f"Not sent: could not read {file.name} ({exc}).")
                return None
        return tuple(ids)

    async def _transfer_frame(
        self, conv: str, user: ChatUser, name: str, agent: str
    ) -> Transfer | None:
        try:
            agents, departments = await self.directory.listing()
        except ApiError as exc:
            await self._tell(user, f"Cannot look up '{name}' right now ({exc.code}).")
            return None
        kind, key = self.platform.mention_of(name, user) or ("name", name)
        if kind == "user":  # a chat-app user: the agent linked to them
            linked = await self.store.agent_for(key)
            found = [_agent_target(a) for a in agents if a.get("id") == linked]
            if not found:
                await self._tell(user, "That user is not linked to a Steadydesk agent.")
                return None
        else:
            found = resolve_target(key, agents, departments)
            if len(found) != 1:
                await self._tell(user, no_single_match(key, found, agents, departments))
                return None
        return _transfer(conv, found[0], agent)

    async def link(self, user: ChatUser, code: str) -> str:
        """Claim a link code for this chat-app user; the answer to show them."""
        code = code.strip()
        if not code:
            return self.platform.link_usage
        try:
            agent = await self.client.claim_link(code, user.external)
        except ApiError as exc:
            if exc.status == 0:
                return "Steadydesk cannot be reached right now; try again in a minute."
            return f"That code did not work ({exc.code}): {exc.message}"
        await self.store.link(user.external, agent)
        return "Linked: your replies in conversation threads now reach visitors as you."

    async def edited(self, user: ChatUser, message_id: str | None = None) -> None:
        """The author changed or deleted a message: tell them the visitor keeps the original,
        if it was passed on (``message_id``, as given to :meth:`reply`, says which)."""
        if message_id is not None:
            inbound = await self.store.inbound(self._cid(message_id))
            if inbound is None or inbound.frame.get("type") != "send":
                return  # never reached Steadydesk (unlinked, a command): nothing to say
        await self._tell(user, EDIT_NOTICE)

    def _cid(self, message_id: str) -> str:
        return f"{self.platform.kind}:{message_id}"[:CID_MAX]

    async def _tell(self, user: ChatUser, text: str) -> None:
        """A private answer to one chat-app user, sent in the background: a rate limit or a
        short outage delays it (``Retry-After`` obeyed), never the delivery being handled
        (Slack wants its answer within 3 s)."""
        self._in_background(self._tell_now(user, text))

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)  # kept, or the loop might collect it half-way
        task.add_done_callback(self._background.discard)

    async def _tell_now(self, user: ChatUser, text: str) -> None:
        for attempt in range(1, TELL_ATTEMPTS + 1):
            try:
                await self.platform.tell(user, text)
                return
            except RateLimited as exc:
                delay = exc.retry_after
                self.metrics.retry("platform", "rate_limited")
            except PlatformUnavailable:
                delay = 2.0**attempt
                self.metrics.retry("platform", "unavailable")
            except PlatformError as exc:
                log.warning("could not tell %s: %s", user.external, exc)
                return
            await asyncio.sleep(min(delay, TELL_WAIT_MAX_SECS))
        log.warning("gave up telling %s after %d attempts", user.external, TELL_ATTEMPTS)


def _agent_target(row: dict[str, Any]) -> Target:
    return Target("agent", str(row.get("id")), str(row.get("name") or ""))


def _transfer(conv: str, target: Target, agent: str) -> Transfer:
    if target.kind == "agent":
        return Transfer(conv, to_agent=target.id, as_agent=agent)
    return Transfer(conv, to_department=target.id, as_agent=agent)


def _item(message: Message) -> Item:
    sender = message.sender
    if message.is_note:
        kind = ItemKind.NOTE
    elif sender.type in (AuthorKind.SYSTEM, AuthorKind.AI):
        kind = ItemKind.SYSTEM
    else:
        kind = ItemKind.MESSAGE
    files = tuple(FileRef(a.id, a.name, a.size, a.type) for a in message.attachments)
    # The names go into the text too: the thread says what was sent even where a file
    # cannot follow (refused by the platform, gone from Steadydesk). Escaped with the body.
    names = "\n".join(f"📎 {f.name or 'file'} ({human_size(f.size)})" for f in files)
    return Item(
        message.conv,
        message.seq,
        kind,
        "\n".join(part for part in (message.body, names) if part),
        Author(sender.type, sender.id, sender.name),
        message.ts,
        message.cid,
        files,
    )


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


__all__ = ["Bridge", "BridgeRevoked", "Health"]
