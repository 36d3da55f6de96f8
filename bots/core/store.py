"""The bridge's durable state: threads and cursors, the outbox, posts, links, inbound sends
and seen platform event ids. SQLite file by default, or ``mysql://`` (BRIDGES §2).

Every method runs on one worker thread (peewee is synchronous), so writes are serialised
and the event loop never blocks on the disk. What the bridge promises rests on three
transactions here:

* :meth:`accept` stores a conversation's next messages in the outbox and moves its cursor
  in one transaction, so the ``resume`` position never runs ahead of what is queued;
* :meth:`record_inbound` keeps a chat-app reply (keyed by its ``cid``) before the platform
  gets its 2xx, so a crash afterwards resends it and the server stores it once;
* :meth:`op_done` deletes an outbox entry and records its platform id together.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import orjson
import peewee as pw

from bots.core.model import Conversation, Item, Op, OpKind, ThreadRef, Visitor

T = TypeVar("T")
SEEN_KEEP_SECS = 2 * 3600.0  # BRIDGES §3: at least an hour
INBOUND_KEEP_SECS = 7 * 24 * 3600.0


class _Base(pw.Model):
    class Meta:
        legacy_table_names = False


class BridgeThread(_Base):
    conv = pw.CharField(max_length=64, primary_key=True)
    visitor = pw.TextField(default="{}")
    department = pw.CharField(max_length=64, null=True)
    channel = pw.CharField(max_length=64, default="")
    root = pw.CharField(max_length=64, null=True)
    status = pw.CharField(max_length=16, default="open")
    cursor = pw.IntegerField(default=0)  # highest seq queued (or known posted): resume from here
    updated_at = pw.DoubleField(default=time.time)

    class Meta:
        indexes = ((("channel", "root"), False),)


class BridgeOutbox(_Base):
    id = pw.AutoField()
    conv = pw.CharField(max_length=64, index=True)
    op = pw.CharField(max_length=16)
    seq = pw.IntegerField(null=True)
    payload = pw.TextField(default="{}")
    in_flight = pw.BooleanField(default=False)  # an attempt began whose outcome is unknown
    attempts = pw.IntegerField(default=0)
    created_at = pw.DoubleField(default=time.time)


class BridgePost(_Base):
    conv = pw.CharField(max_length=64)
    seq = pw.IntegerField()
    channel = pw.CharField(max_length=64)
    platform_id = pw.CharField(max_length=64)

    class Meta:
        primary_key = pw.CompositeKey("conv", "seq")


class BridgeInbound(_Base):
    cid = pw.CharField(max_length=64, primary_key=True)
    conv = pw.CharField(max_length=64)
    frame = pw.TextField()
    reply_to = pw.TextField(default="{}")
    platform_id = pw.CharField(max_length=64, default="")
    channel = pw.CharField(max_length=64, default="")
    state = pw.CharField(max_length=16, default="pending", index=True)
    seq = pw.IntegerField(null=True)
    created_at = pw.DoubleField(default=time.time)


class BridgeLink(_Base):
    external_user = pw.CharField(max_length=128, primary_key=True)
    agent_id = pw.CharField(max_length=64)
    linked_at = pw.DoubleField(default=time.time)


class BridgeSeen(_Base):
    event_id = pw.CharField(max_length=128, primary_key=True)
    seen_at = pw.DoubleField(index=True)


class BridgeFormerThread(_Base):
    """A thread a conversation left when a transfer moved it to another channel."""

    channel = pw.CharField(max_length=64)
    root = pw.CharField(max_length=64)
    conv = pw.CharField(max_length=64)

    class Meta:
        primary_key = pw.CompositeKey("channel", "root")


MODELS = [
    BridgeThread,
    BridgeOutbox,
    BridgePost,
    BridgeInbound,
    BridgeLink,
    BridgeSeen,
    BridgeFormerThread,
]
# MySQL client errors that mean the connection is gone (server restarted, connection
# killed, wait_timeout passed): the store reconnects and runs the unit of work again.
_LOST_CONNECTION = frozenset({0, 2006, 2013, 2055, 4031})


def open_database(location: str) -> pw.Database:
    """A file path (SQLite) or a ``mysql://user:pass@host:port/db`` URL."""
    parts = urlsplit(location)
    if parts.scheme in ("mysql", "mysql+pymysql"):
        return pw.MySQLDatabase(
            unquote(parts.path.lstrip("/")),
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            charset="utf8mb4",
        )
    path = location.removeprefix("sqlite:///") if parts.scheme == "sqlite" else location
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return pw.SqliteDatabase(
        path,
        check_same_thread=False,
        pragmas={"journal_mode": "wal", "synchronous": "normal", "busy_timeout": 10000},
    )


@dataclass(frozen=True, slots=True)
class ThreadRecord:
    conv: str
    visitor: Visitor
    department: str | None
    channel: str
    root: str | None
    status: str
    cursor: int

    @property
    def ref(self) -> ThreadRef | None:
        return ThreadRef(self.channel, self.root) if self.root else None


@dataclass(frozen=True, slots=True)
class Accepted:
    """What :meth:`StateStore.accept` did: ``queued`` items, and ``gap_after`` set when a
    later seq arrived before the one after the cursor (ask the server to ``sync``)."""

    queued: int
    cursor: int
    gap_after: int | None


@dataclass(frozen=True, slots=True)
class Inbound:
    cid: str
    conv: str
    frame: dict[str, Any]
    reply_to: dict[str, Any]
    state: str


def _new_thread(conversation: Conversation, channel: str, intro: str | None) -> BridgeThread:
    """A thread for a conversation, its root queued (and ``intro``, a notice about the
    visitor, right after it), inside the caller's transaction."""
    row = BridgeThread.create(
        conv=conversation.id,
        visitor=orjson.dumps(conversation.visitor.to_json()).decode(),
        department=conversation.department,
        channel=channel,
    )
    BridgeOutbox.create(conv=conversation.id, op=OpKind.OPEN.value, payload="{}")
    _queue_intro(conversation.id, intro)
    return row


def _queue_intro(conv: str, intro: str | None) -> None:
    if intro:
        BridgeOutbox.create(
            conv=conv, op=OpKind.NOTICE.value, payload=orjson.dumps({"text": intro}).decode()
        )


def _thread(row: BridgeThread) -> ThreadRecord:
    return ThreadRecord(
        row.conv,
        Visitor.from_json(orjson.loads(row.visitor)),
        row.department,
        row.channel,
        row.root,
        row.status,
        row.cursor,
    )


def _op(row: BridgeOutbox) -> Op:
    return Op(
        row.id,
        row.conv,
        OpKind(row.op),
        orjson.loads(row.payload),
        row.seq,
        bool(row.in_flight),
        row.attempts,
        row.created_at,
    )


class StateStore:
    def __init__(self, location: str) -> None:
        self.location = location
        self.db = open_database(location)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bridge-state")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._reconnecting, fn, *args
        )

    def _reconnecting(self, fn: Callable[..., T], *args: Any) -> T:
        """Run one unit of work; on a MySQL connection that was lost (a restart, a killed
        connection, an idle one past ``wait_timeout``), reconnect and run it once more.
        Every unit is one transaction that either committed or did nothing, and the ones
        that matter are idempotent (cursors, cids, event ids), so a second run is safe."""
        try:
            return fn(*args)
        except (pw.OperationalError, pw.InterfaceError) as exc:
            if not isinstance(self.db, pw.MySQLDatabase) or not _lost(exc):
                raise
            self.db.close()
            self.db.connect()
            return fn(*args)

    # -- lifecycle --------------------------------------------------------------------
    async def open(self) -> None:
        await self.run(self._open)

    def _open(self) -> None:
        self.db.bind(MODELS)
        self.db.connect(reuse_if_open=True)
        self.db.create_tables(MODELS, safe=True)

    async def close(self) -> None:
        await self.run(self.db.close)
        self._pool.shutdown(wait=True)

    # -- threads ----------------------------------------------------------------------
    async def thread(self, conv: str) -> ThreadRecord | None:
        return await self.run(self._get_thread, conv)

    def _get_thread(self, conv: str) -> ThreadRecord | None:
        row = BridgeThread.get_or_none(BridgeThread.conv == conv)
        return _thread(row) if row else None

    async def thread_by_root(self, channel: str, root: str) -> ThreadRecord | None:
        def find() -> ThreadRecord | None:
            # Several conversations share a thread when one continues another: the open
            # one (else the newest) is the one replies are for.
            row = (
                BridgeThread.select()
                .where((BridgeThread.channel == channel) & (BridgeThread.root == root))
                .order_by((BridgeThread.status == "open").desc(), BridgeThread.updated_at.desc())
                .first()
            )
            return _thread(row) if row else None

        return await self.run(find)

    async def resume_map(self) -> dict[str, int]:
        """Every open conversation the bridge mirrors, with the last seq it has queued."""

        def read() -> dict[str, int]:
            query = BridgeThread.select(BridgeThread.conv, BridgeThread.cursor).where(
                BridgeThread.status == "open"
            )
            return {row.conv: row.cursor for row in query}

        return await self.run(read)

    async def start_thread(
        self, conversation: Conversation, channel: str, intro: str | None = None
    ) -> bool:
        """Record a conversation the bridge has not seen and queue its root (and ``intro``,
        a notice about the visitor, right after it); False if known."""

        def start() -> bool:
            with self.db.atomic():
                if BridgeThread.get_or_none(BridgeThread.conv == conversation.id):
                    return False
                _new_thread(conversation, channel, intro)
                return True

        return await self.run(start)

    async def continue_thread(
        self, conversation: Conversation, previous: str, channel: str, intro: str | None = None
    ) -> bool:
        """A follow-up conversation goes on in ``previous``'s thread when that thread is in
        ``channel``: the thread is queued to reopen once everything queued for ``previous``
        is posted (the REOPEN entry names it in ``after``). False (nothing done) when the
        conversation is known or ``previous`` has no thread there."""

        def carry_on() -> bool:
            with self.db.atomic():
                if BridgeThread.get_or_none(BridgeThread.conv == conversation.id):
                    return False
                old = BridgeThread.get_or_none(BridgeThread.conv == previous)
                if old is None or old.channel != channel or not old.root:
                    return False
                BridgeThread.create(
                    conv=conversation.id,
                    visitor=orjson.dumps(conversation.visitor.to_json()).decode(),
                    department=conversation.department,
                    channel=channel,
                    root=old.root,
                )
                if old.status != "closed":  # its close must not close the thread now
                    old.status, old.updated_at = "closed", time.time()
                    old.save()
                BridgeOutbox.create(
                    conv=conversation.id,
                    op=OpKind.REOPEN.value,
                    payload=orjson.dumps({"after": previous}).decode(),
                )
                _queue_intro(conversation.id, intro)
                return True

        return await self.run(carry_on)

    async def set_status(self, conv: str, status: str, op: OpKind, payload: dict[str, Any]) -> bool:
        """Change a thread's status and queue what the platform must do; False if unchanged."""

        def change() -> bool:
            with self.db.atomic():
                row = BridgeThread.get_or_none(BridgeThread.conv == conv)
                if row is None or row.status == status:
                    return False
                row.status, row.updated_at = status, time.time()
                row.save()
                BridgeOutbox.create(conv=conv, op=op.value, payload=orjson.dumps(payload).decode())
                return True

        return await self.run(change)

    async def move_thread(self, conv: str, department: str | None, channel: str) -> bool:
        """A transfer to a department posted elsewhere: queue the move; False if same place."""

        def move() -> bool:
            with self.db.atomic():
                row = BridgeThread.get_or_none(BridgeThread.conv == conv)
                if row is None:
                    return False
                row.department = department
                row.save()
                if row.channel == channel:
                    return False
                BridgeOutbox.create(
                    conv=conv,
                    op=OpKind.MOVE.value,
                    payload=orjson.dumps({"channel": channel}).decode(),
                )
                return True

        return await self.run(move)

    async def queue_notice(self, conv: str, text: str) -> None:
        def queue() -> None:
            if BridgeThread.get_or_none(BridgeThread.conv == conv) is not None:
                BridgeOutbox.create(
                    conv=conv, op=OpKind.NOTICE.value, payload=orjson.dumps({"text": text}).decode()
                )

        await self.run(queue)

    # -- messages in ------------------------------------------------------------------
    async def accept(
        self,
        conv: str,
        items: Iterable[Item],
        *,
        start: tuple[Conversation, str] | None = None,
        intro: str | None = None,
    ) -> Accepted:
        """Queue a conversation's next messages. ``start`` (the conversation and its
        channel) records the thread first when it is new, in the same transaction: the
        root is never queued without the first messages that came with it."""
        return await self.run(self._accept, conv, sorted(items, key=lambda i: i.seq), start, intro)

    def _accept(
        self,
        conv: str,
        items: list[Item],
        start: tuple[Conversation, str] | None,
        intro: str | None = None,
    ) -> Accepted:
        with self.db.atomic():
            row = BridgeThread.get_or_none(BridgeThread.conv == conv)
            if row is None and start is not None:
                row = _new_thread(*start, intro)
            if row is None:
                raise LookupError(conv)
            cursor, queued, gap = row.cursor, 0, None
            for item in items:
                if item.seq <= cursor:
                    continue  # PROTOCOL §2: drop any seq already held
                if item.seq != cursor + 1:
                    gap = cursor
                    break
                own = BridgeInbound.get_or_none(BridgeInbound.cid == item.cid) if item.cid else None
                if own is not None and own.conv == conv:
                    # Our own chat-app reply coming back: it is in the thread already.
                    own.state, own.seq = "acked", item.seq
                    own.save()
                    BridgePost.insert(
                        conv=conv, seq=item.seq, channel=own.channel, platform_id=own.platform_id
                    ).on_conflict_ignore().execute()
                else:
                    BridgeOutbox.create(
                        conv=conv,
                        op=OpKind.POST.value,
                        seq=item.seq,
                        payload=orjson.dumps(item.to_json()).decode(),
                    )
                    queued += 1
                cursor = item.seq
            if cursor != row.cursor:
                row.cursor, row.updated_at = cursor, time.time()
                row.save()
            return Accepted(queued, cursor, gap)

    # -- the outbox -------------------------------------------------------------------
    async def pending_convs(self) -> list[str]:
        def read() -> list[str]:
            query = BridgeOutbox.select(BridgeOutbox.conv).distinct()
            return [row.conv for row in query]

        return await self.run(read)

    async def head(self, conv: str, limit: int = 2) -> list[Op]:
        """The conversation's oldest queued entries, in order."""

        def read() -> list[Op]:
            query = (
                BridgeOutbox.select()
                .where(BridgeOutbox.conv == conv)
                .order_by(BridgeOutbox.id)
                .limit(limit)
            )
            return [_op(row) for row in query]

        return await self.run(read)

    async def queued_item(self, conv: str, seq: int) -> Op | None:
        """The conversation's queued entry for item ``seq``, if it is still queued."""

        def read() -> Op | None:
            row = BridgeOutbox.get_or_none(
                (BridgeOutbox.conv == conv)
                & (BridgeOutbox.op == OpKind.POST.value)
                & (BridgeOutbox.seq == seq)
            )
            return _op(row) if row else None

        return await self.run(read)

    async def begin_attempt(self, op_id: int) -> None:
        def mark() -> None:
            BridgeOutbox.update(in_flight=True, attempts=BridgeOutbox.attempts + 1).where(
                BridgeOutbox.id == op_id
            ).execute()

        await self.run(mark)

    async def note_progress(self, op_id: int, payload: dict[str, Any]) -> None:
        """An entry made of several platform calls records each step as it succeeds, so a
        retry after a failure or a crash goes on from there instead of repeating it."""

        def save() -> None:
            BridgeOutbox.update(payload=orjson.dumps(payload).decode()).where(
                BridgeOutbox.id == op_id
            ).execute()

        await self.run(save)

    async def attempt_failed(self, op_id: int) -> None:
        """The platform said no: nothing was posted, no need to look for it next time."""

        def mark() -> None:
            BridgeOutbox.update(in_flight=False).where(BridgeOutbox.id == op_id).execute()

        await self.run(mark)

    async def op_done(
        self,
        op: Op,
        *,
        channel: str,
        platform_id: str | None,
        thread: ThreadRef | None = None,
        also_done: Op | None = None,
    ) -> None:
        """Remove the entry (and ``also_done``, folded into it), record where it went, and
        the thread's new place when it opened or moved one."""

        def done() -> None:
            with self.db.atomic():
                for entry in (op, also_done):
                    if entry is None:
                        continue
                    BridgeOutbox.delete().where(BridgeOutbox.id == entry.id).execute()
                    if entry.seq is not None and platform_id:
                        BridgePost.insert(
                            conv=entry.conv, seq=entry.seq, channel=channel, platform_id=platform_id
                        ).on_conflict_replace().execute()
                if thread is not None:
                    row = BridgeThread.get_or_none(BridgeThread.conv == op.conv)
                    if row is not None and row.root and row.root != thread.root:
                        BridgeFormerThread.insert(
                            channel=row.channel, root=row.root, conv=op.conv
                        ).on_conflict_replace().execute()
                    BridgeThread.update(
                        channel=thread.channel, root=thread.root, updated_at=time.time()
                    ).where(BridgeThread.conv == op.conv).execute()

        await self.run(done)

    async def former_thread(self, channel: str, root: str) -> str | None:
        """The conversation that left this thread for another channel, if one did."""

        def find() -> str | None:
            row = BridgeFormerThread.get_or_none(
                (BridgeFormerThread.channel == channel) & (BridgeFormerThread.root == root)
            )
            return row.conv if row else None

        return await self.run(find)

    async def outbox_depth(self) -> int:
        return await self.run(lambda: BridgeOutbox.select().count())

    async def posts(self, conv: str) -> dict[int, str]:
        def read() -> dict[int, str]:
            query = BridgePost.select().where(BridgePost.conv == conv)
            return {row.seq: row.platform_id for row in query}

        return await self.run(read)

    # -- chat-app users ---------------------------------------------------------------
    async def link(self, external_user: str, agent_id: str) -> None:
        def save() -> None:
            BridgeLink.insert(
                external_user=external_user, agent_id=agent_id, linked_at=time.time()
            ).on_conflict_replace().execute()

        await self.run(save)

    async def unlink(self, external_user: str) -> None:
        await self.run(
            lambda: BridgeLink.delete().where(BridgeLink.external_user == external_user).execute()
        )

    async def replace_links(self, links: dict[str, str], *, older_than: float) -> None:
        """The server's list of this bridge's links (external user -> agent) replaces ours:
        links made through another state store come back, unlinked users go (but not a
        link made here after ``older_than``, when the list was asked for)."""

        def replace() -> None:
            with self.db.atomic():
                BridgeLink.delete().where(
                    BridgeLink.external_user.not_in(list(links))
                    & (BridgeLink.linked_at < older_than)
                ).execute()
                for external_user, agent_id in links.items():
                    BridgeLink.insert(
                        external_user=external_user, agent_id=agent_id, linked_at=time.time()
                    ).on_conflict_replace().execute()

        await self.run(replace)

    async def agent_for(self, external_user: str) -> str | None:
        def read() -> str | None:
            row = BridgeLink.get_or_none(BridgeLink.external_user == external_user)
            return row.agent_id if row else None

        return await self.run(read)

    # -- replies from the chat app ----------------------------------------------------
    async def record_inbound(
        self,
        cid: str,
        conv: str,
        frame: dict[str, Any],
        reply_to: dict[str, Any],
        *,
        channel: str = "",
        platform_id: str = "",
    ) -> bool:
        """Keep an action to send to Steadydesk; False when this cid was recorded before."""

        def save() -> bool:
            with self.db.atomic():
                if BridgeInbound.get_or_none(BridgeInbound.cid == cid) is not None:
                    return False
                BridgeInbound.create(
                    cid=cid,
                    conv=conv,
                    frame=orjson.dumps(frame).decode(),
                    reply_to=orjson.dumps(reply_to).decode(),
                    channel=channel,
                    platform_id=platform_id,
                    created_at=time.time(),
                )
                return True

        return await self.run(save)

    async def pending_inbound(self) -> list[Inbound]:
        def read() -> list[Inbound]:
            query = (
                BridgeInbound.select()
                .where(BridgeInbound.state == "pending")
                .order_by(BridgeInbound.created_at)
            )
            return [
                Inbound(r.cid, r.conv, orjson.loads(r.frame), orjson.loads(r.reply_to), r.state)
                for r in query
            ]

        return await self.run(read)

    async def inbound(self, cid: str) -> Inbound | None:
        def read() -> Inbound | None:
            r = BridgeInbound.get_or_none(BridgeInbound.cid == cid)
            return (
                Inbound(r.cid, r.conv, orjson.loads(r.frame), orjson.loads(r.reply_to), r.state)
                if r
                else None
            )

        return await self.run(read)

    async def inbound_finished(self, cid: str, state: str, seq: int | None = None) -> None:
        """``acked`` (stored by the server) or ``refused``; kept a while to spot our echoes."""

        def mark() -> None:
            BridgeInbound.update(state=state, seq=seq).where(BridgeInbound.cid == cid).execute()

        await self.run(mark)

    # -- platform event ids -----------------------------------------------------------
    async def first_sight(self, event_id: str) -> bool:
        """True the first time an event id is seen (kept SEEN_KEEP_SECS), False after."""

        def claim() -> bool:
            key = event_id[:128]
            with self.db.atomic():
                if BridgeSeen.get_or_none(BridgeSeen.event_id == key) is not None:
                    return False
                BridgeSeen.create(event_id=key, seen_at=time.time())
                return True

        return await self.run(claim)

    async def seen(self, event_id: str) -> bool:
        """Whether :meth:`remember` (or :meth:`first_sight`) kept this event id."""
        key = event_id[:128]
        return await self.run(
            lambda: BridgeSeen.get_or_none(BridgeSeen.event_id == key) is not None
        )

    async def remember(self, event_id: str) -> None:
        """Keep an event id once it has been handled (SEEN_KEEP_SECS)."""

        def save() -> None:
            BridgeSeen.insert(
                event_id=event_id[:128], seen_at=time.time()
            ).on_conflict_ignore().execute()

        await self.run(save)

    async def prune(self, now: float | None = None) -> None:
        def prune() -> None:
            at = time.time() if now is None else now
            BridgeSeen.delete().where(BridgeSeen.seen_at < at - SEEN_KEEP_SECS).execute()
            BridgeInbound.delete().where(
                (BridgeInbound.state != "pending")
                & (BridgeInbound.created_at < at - INBOUND_KEEP_SECS)
            ).execute()

        await self.run(prune)


def _lost(exc: Exception) -> bool:
    # peewee re-raises the driver's error as (original, code, message).
    code = next((a for a in exc.args if isinstance(a, int)), None)
    return isinstance(exc, pw.InterfaceError) or code in _LOST_CONNECTION
