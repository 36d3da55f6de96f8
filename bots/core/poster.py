"""Drains the durable outbox into the chat app: per conversation in order, conversations in
parallel, rate limits obeyed per channel, the platform breaker respected.

Each entry is marked *in flight* (committed) before its call. If the process dies, or the
call times out, between the platform's accept and :meth:`StateStore.op_done`, the next
attempt first asks the platform for a post carrying the entry's ``ref`` (Slack: message
metadata, read back with ``conversations.replies``) and records that instead of posting
twice. A refusal or a 429 clears the mark: nothing was posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from bots.core.breakers import BreakerOpen, Breakers
from bots.core.client import ApiError
from bots.core.metrics import BridgeMetrics
from bots.core.model import AuthorKind, Conversation, FileRef, Item, Op, OpKind, ThreadRef
from bots.core.platform import (
    Platform,
    PlatformError,
    PlatformRefused,
    PlatformUnavailable,
    RateLimited,
    ThreadStart,
)
from bots.core.store import StateStore, ThreadRecord

log = logging.getLogger(__name__)

PLATFORM_BREAKER = "platform"
REFUSED_RETRY_SECS = 30.0
UNAVAILABLE_RETRY_SECS = 0.5
SWEEP_SECS = 2.0
ROOT_WAITS_FOR_FIRST_SECS = 5.0
ROOT_LOOKAHEAD = 8  # entries read behind a root for the visitor's first message
FIRST_MESSAGE_POLL_SECS = 0.1
WAIT_FOR_OTHER_SECS = 0.2
AGAIN_AFTER_UNKNOWN = "posting again after an attempt of unknown outcome:"


def _age_secs(ts: str) -> float | None:
    try:
        at = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, time.time() - at.timestamp())


def _first_question(ops: list[Op]) -> Op | None:
    """The entry whose item a root (``ops[0]``) shows: the visitor's first message, also
    when items of others are queued before it (the site's greeting, stored at seq 1
    before the message that opened the conversation; an agent's invitation). None when
    something else comes first (a platform's intro notice, a close), when that message
    has files (they go into the thread), or when it is not queued yet."""
    for op in ops[1:]:
        if op.kind is not OpKind.POST or op.in_flight:
            return None
        item = Item.from_json(op.payload)
        if item.author.kind == AuthorKind.VISITOR:
            return None if item.files else op
    return None


def _root_awaits_first_message(ops: list[Op]) -> bool:
    """A root with nothing queued behind it but items of others (a greeting, or nothing
    at all): its first visitor message is on its way (a gap, seq 2 before 1, asks the
    server for it; a back-fill's replay follows), and BRIDGES wants it on the root. It
    waits a few seconds at most, then goes alone."""
    root = ops[0]
    return (
        root.kind is OpKind.OPEN
        and time.time() - root.queued_at < ROOT_WAITS_FOR_FIRST_SECS
        and all(
            op.kind is OpKind.POST and Item.from_json(op.payload).author.kind != AuthorKind.VISITOR
            for op in ops[1:]
        )
    )


class Poster:
    def __init__(
        self,
        store: StateStore,
        platform: Platform,
        breakers: Breakers,
        metrics: BridgeMetrics,
        *,
        concurrency: int,
        on_platform: Callable[[bool, str], None],
        fetch_file: Callable[[str], Awaitable[bytes]] | None = None,
    ) -> None:
        self.store = store
        self.platform = platform
        self.breakers = breakers
        self.metrics = metrics
        self.on_platform = on_platform
        self.fetch_file = fetch_file
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._paused_until: dict[str, float] = {}  # channel -> monotonic time (429)
        self._stopping = False

    def kick(self, conv: str) -> None:
        """Something was queued for ``conv``: make sure it is being drained."""
        if self._stopping:
            return
        task = self._tasks.get(conv)
        if task is not None and not task.done():
            self._again.add(conv)
            return
        self._tasks[conv] = asyncio.get_running_loop().create_task(self._drain(conv))

    async def run(self) -> None:
        """Drain everything queued, then keep sweeping (a safety net for missed kicks)."""
        while not self._stopping:
            for conv in await self.store.pending_convs():
                self.kick(conv)
            self.metrics.outbox_depth.set(await self.store.outbox_depth())
            await asyncio.sleep(SWEEP_SECS)

    async def stop(self) -> None:
        self._stopping = True
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _drain(self, conv: str) -> None:
        while True:
            self._again.discard(conv)
            ops = await self.store.head(conv, 1)
            if not ops:
                if conv in self._again:
                    continue
                self._tasks.pop(conv, None)
                return
            thread = await self.store.thread(conv)
            if thread is None:  # cannot happen: entries are queued with their thread
                log.error("outbox entry for unknown conversation %s dropped", conv)
                await self.store.op_done(ops[0], channel="", platform_id=None)
                continue
            first: Op | None = None
            if ops[0].kind is OpKind.OPEN and self.platform.root_shows_first:
                ops = await self.store.head(conv, ROOT_LOOKAHEAD)
                if _root_awaits_first_message(ops):
                    await asyncio.sleep(FIRST_MESSAGE_POLL_SECS)
                    continue
                first = _first_question(ops)
            await self._wait_for_channel(thread.channel)
            if await self._waits_for_another(ops[0]):
                await asyncio.sleep(WAIT_FOR_OTHER_SECS)
                continue
            try:
                async with self._slots, self.breakers.guard(PLATFORM_BREAKER):
                    await self._perform(thread, ops[0], first)
                self.on_platform(True, "")
            except RateLimited as exc:
                await self.store.attempt_failed(ops[0].id)
                self.metrics.retry("platform", "rate_limited")
                channel = exc.channel or thread.channel
                self._paused_until[channel] = time.monotonic() + exc.retry_after
            except BreakerOpen as exc:
                self.on_platform(False, "circuit open after repeated failures")
                await asyncio.sleep(exc.retry_in)
            except PlatformRefused as exc:
                await self.store.attempt_failed(ops[0].id)
                self.metrics.retry("platform", "refused")
                self.on_platform(False, f"refused: {exc}")
                log.error("the platform refused a post for %s: %s", conv, exc)
                await asyncio.sleep(REFUSED_RETRY_SECS)
            except PlatformError as exc:
                self.metrics.retry("platform", "unavailable")
                self.on_platform(False, str(exc) or type(exc).__name__)
                await asyncio.sleep(UNAVAILABLE_RETRY_SECS)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug or the state store failing: keep the entry, try again
                log.exception("posting for %s failed", conv)
                await asyncio.sleep(REFUSED_RETRY_SECS / 10)

    async def _waits_for_another(self, op: Op) -> bool:
        """A thread reopened for a follow-up conversation waits until everything queued for
        the conversation before it (its close, above all) is posted."""
        after = op.payload.get("after") if op.kind is OpKind.REOPEN else None
        if not isinstance(after, str) or not await self.store.head(after, 1):
            return False
        self.kick(after)
        return True

    async def _wait_for_channel(self, channel: str) -> None:
        # A 429 paused this channel: every conversation posting there waits it out.
        until = self._paused_until.get(channel, 0.0)
        while until > time.monotonic():
            await asyncio.sleep(until - time.monotonic())
            until = self._paused_until.get(channel, 0.0)

    async def _perform(self, thread: ThreadRecord, op: Op, first: Op | None) -> None:
        """Post ``op``; ``first``: for a root, the entry of the message it shows."""
        if op.in_flight:
            if await self._found(thread, op):
                return
            # The duplicate window (docs/bridges.md): this post may already be there.
            log.info("%s %s of %s", AGAIN_AFTER_UNKNOWN, op.ref, op.conv)
        await self.store.begin_attempt(op.id)
        if op.kind is OpKind.OPEN:
            await self._open(thread, op, first)
            return
        ref = thread.ref
        if ref is None:
            raise PlatformUnavailable(f"thread of {op.conv} has no root yet")
        channel = ref.channel
        if op.kind is OpKind.POST:
            item = Item.from_json(op.payload)
            if item.files:
                # Files first: the item's post marks it done, so a crash in between
                # uploads them again (a file may show twice, never be lost).
                await self.platform.post_files(ref, item, await self._download(item))
            platform_id = await self.platform.post(ref, item, op.ref)
            self._posted(item)
        elif op.kind is OpKind.NOTICE:
            platform_id = await self.platform.post_notice(
                ref, op.conv, str(op.payload["text"]), op.ref
            )
        elif op.kind is OpKind.CLOSE:
            platform_id = await self.platform.close_thread(
                ref, op.conv, str(op.payload.get("by", "")), op.ref
            )
        elif op.kind is OpKind.REOPEN:
            platform_id = await self.platform.reopen_thread(ref, op.conv, op.ref)
        else:  # MOVE
            await self._move(thread, op)
            return
        self.metrics.posted.inc()
        await self.store.op_done(op, channel=channel, platform_id=platform_id)

    async def _found(self, thread: ThreadRecord, op: Op) -> bool:
        """After an attempt of unknown outcome: record the post if the platform has it."""
        if op.kind is OpKind.OPEN:
            found = await self.platform.find_thread(op.conv, thread.channel)
            if found is not None:
                # The root showed the first message when the attempt said so: done too,
                # wherever it is queued (a greeting may be queued before it).
                shown = op.payload.get("first_seq")
                await self.store.op_done(
                    op,
                    channel=found.channel,
                    platform_id=found.root,
                    thread=found,
                    also_done=(
                        await self.store.queued_item(op.conv, shown)
                        if isinstance(shown, int)
                        else None
                    ),
                )
            return found is not None
        if op.kind is OpKind.MOVE:
            return False  # _move looks for each of its two steps itself
        ref = thread.ref
        if ref is None:
            return False
        platform_id = await self.platform.find(ref, op.conv, op.ref)
        if platform_id is not None:
            log.info("found %s of %s already posted; not posting it again", op.ref, op.conv)
            await self.store.op_done(op, channel=ref.channel, platform_id=platform_id)
        return platform_id is not None

    async def _open(self, thread: ThreadRecord, op: Op, shown: Op | None) -> None:
        """The root, showing ``shown``'s item (the visitor's first message): that entry is
        done with the root, and whatever was queued before it (a greeting) follows in
        the thread, in order."""
        first = Item.from_json(shown.payload) if shown is not None else None
        # The intent, committed before the call: a root found after a crash counts for
        # the message it shows (and one posted without a message, for none).
        intent = {k: v for k, v in op.payload.items() if k != "first_seq"}
        if first is not None:
            intent["first_seq"] = first.seq
        if intent != op.payload:
            await self.store.note_progress(op.id, intent)
        start = ThreadStart(op.conv, thread.visitor, thread.department, thread.channel, first)
        ref = await self.platform.open_thread(start, op.ref)
        self.metrics.posted.inc()
        if first is not None:
            self._posted(first)
        await self.store.op_done(
            op, channel=ref.channel, platform_id=ref.root, thread=ref, also_done=shown
        )

    async def _move(self, thread: ThreadRecord, op: Op) -> None:
        """A new thread in the other channel, its intro, then a pointer in the old one:
        each step is recorded as it succeeds (``note_progress``), so a retry goes on where
        the last attempt stopped, also on a platform that cannot find its posts."""
        old, channel = thread.ref, str(op.payload["channel"])
        progress = dict(op.payload)
        new = ThreadRef(channel, str(progress["root"])) if progress.get("root") else None
        if new is None:
            new = await self.platform.find_thread(op.conv, channel)
        if new is None:
            start = ThreadStart(op.conv, thread.visitor, thread.department, channel, None, old)
            new = await self.platform.open_thread(start, "root")
            progress["root"] = new.root
            await self.store.note_progress(op.id, progress)
        intro = self.platform.intro(
            Conversation(op.conv, thread.visitor, thread.department or None)
        )
        if intro and not progress.get("intro_done"):
            await self.platform.post_notice(new, op.conv, intro, f"{op.ref}i")
            progress["intro_done"] = True
            await self.store.note_progress(op.id, progress)
        if old is not None:
            pointer_ref = op.ref
            if await self.platform.find(old, op.conv, pointer_ref) is None:
                await self.platform.post_pointer(old, new, op.conv, pointer_ref)
        self.metrics.posted.inc()
        await self.store.op_done(op, channel=new.channel, platform_id=new.root, thread=new)

    async def _download(self, item: Item) -> list[tuple[FileRef, bytes]]:
        """The item's files from Steadydesk. One it refuses (gone, not allowed) is left
        out (the post still names it); Steadydesk unreachable: the post waits."""
        if self.fetch_file is None:
            return []
        out: list[tuple[FileRef, bytes]] = []
        for file in item.files:
            try:
                out.append((file, await self.fetch_file(file.id)))
            except ApiError as exc:
                if exc.status == 0 or exc.status >= 500:
                    raise PlatformUnavailable(f"attachment {file.id}: {exc}") from exc
                log.warning("attachment %s of %s not posted: %s", file.id, item.conv, exc)
        return out

    def _posted(self, item: Item) -> None:
        self.metrics.posted.inc()
        age = _age_secs(item.ts) if item.ts else None
        if age is not None:
            self.metrics.thread_latency.observe(age)


__all__ = ["PLATFORM_BREAKER", "Poster", "ThreadRef"]
