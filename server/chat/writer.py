"""The group-commit writer: many sends, one transaction, gap-free seq, then the acks.

Connections hand pending sends to ``submit`` and keep reading. One batch is in flight at
a time; while it commits the next one gathers, so batches grow with load by themselves,
up to ``batch_max`` sends (``STEADY_COMMIT_BATCH_MAX``) and ``BATCH_BODY_CHARS`` of bodies.
Inside the transaction the writer
1. finds sends whose ``(conv, sender, cid)`` is already stored (idempotent resend),
2. locks the conversations' rows (in id order, so two nodes never deadlock) and
   assigns ``seq`` from their counters,
3. inserts all new messages with one multi-row INSERT (the ORM's bulk insert costs ~3x
   on this path) and moves the counters with one UPDATE; a bridge's sends also get their
   audit rows there (one more INSERT, only in a batch that has some).
Only after COMMIT are the futures resolved, so an ack always means "durably stored".

The tenant guard's one exception on the message path (``server/storage/guard.py``): these
statements are raw SQL, which the guard does not see, and each batch spans tenants. The
writer keeps the guard's promise itself, in ``_commit`` and ``_stored_duplicates``:
- a message row is written only for a send whose ``tenant_id`` is its conversation's
  (read in the same transaction, under the row lock); any other send is "no such
  conversation", and nothing of it is written;
- the row's ``tenant_id`` is the send's (its audit row's too), the ``last_seq`` update
  names only conversations that passed that check;
- the resend lookup keys what it finds by tenant, so another tenant's stored message is
  never returned as an "already stored" ack.
``tests/unit/chat/test_writer.py`` proves each of these against a real database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import peewee as pw
from pymysql.constants.CLIENT import MULTI_STATEMENTS

from server.chat.ai_rules import AI, robot_may_write, taken_over
from server.chat.records import MessageFields, SendResult, StoredMessage
from server.chat.rendered import RENDERED
from server.errors import ErrorCode, Forbidden, NotFound, SteadyError, Unavailable
from server.foundation import audit
from server.ids import new_id
from server.kernel.actors import Actor
from server.kernel.enums import ConversationStatus
from server.security.sanitizer import render_html
from server.storage.database import UNAVAILABLE_ERRORS, is_mysql
from server.storage.models import Attachment, AuditLog, Conversation, Message

log = logging.getLogger(__name__)

INTEGRITY_RETRIES = 3
LOCK_CONFLICT_RETRIES = 5
# A batch stops growing once its bodies reach this many characters (at most 4 MiB of
# UTF-8, about 5.5 sealed at rest), so its one INSERT stays well under MariaDB's
# max_allowed_packet (16 MiB by default) whatever ``batch_max`` is and however long the
# bodies: 1,000 bodies at the largest allowed size would be 48 MB.
BATCH_BODY_CHARS = 2**20
# SQLite refuses a statement with more parameters than this (SQLITE_MAX_VARIABLE_NUMBER,
# 32,766 since 3.32); a message row takes 11, so a batch there holds at most 2,978.
SQLITE_MAX_PARAMETERS = 32_766
ROW_PARAMETERS = 11
CLOSED = ConversationStatus.CLOSED.value
RETRYABLE_MYSQL_ERRORS = {1205, 1213}  # lock wait timeout, deadlock
# The driver's errors as peewee's (IntegrityError, OperationalError...), as execute_sql
# raises them, for the errors of a query's later statements (``_statements``).
_PEEWEE_ERRORS = pw.ExceptionWrapper(
    {
        error.__name__: error
        for error in (
            pw.DatabaseError,
            pw.DataError,
            pw.IntegrityError,
            pw.InterfaceError,
            pw.InternalError,
            pw.NotSupportedError,
            pw.OperationalError,
            pw.ProgrammingError,
        )
    }
)


def _error_number(err: BaseException) -> int | None:
    code = err.args[0] if err.args else None
    return code if isinstance(code, int) else None


@dataclass(slots=True, kw_only=True)
class PendingSend(MessageFields):
    """A send waiting for its group commit; ``future`` gets its ``SendResult``."""

    future: asyncio.Future[SendResult] = field(repr=False)
    queued_at: float = 0.0
    attachment_ids: tuple[str, ...] = ()  # uploads this message claims (chat/attachments.py)
    # A bridge's send (``Actor.audit_ip``): its ``message.send`` audit row is inserted by
    # the batch's transaction, so a stored message always has its row.
    audit_as: Actor | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """What makes a send the same send: its tenant, conversation, sender and cid."""
        return (self.tenant_id, *_key(self))


def _key(message: MessageFields) -> tuple[str, str, str, str]:
    return (message.conv, message.sender_type, message.sender_id, message.cid)


def _quoted(database: pw.Database, name: str) -> str:
    return f"{database.quote[0]}{name}{database.quote[1]}"


def _audit_row(actor: Actor, message: StoredMessage) -> dict[str, Any]:
    """The ``message.send`` audit row of a bridge's stored message (no query: the actor
    names its bridge, ``Actor.via_name``)."""
    details = {"message": message.id, "seq": message.seq, "kind": message.kind}
    row = audit.entry(actor, "message.send", message.conv, details, actor.audit_ip or "")
    row["tenant_id"] = message.tenant_id  # the send's, checked against its conversation
    return row


class _NotBegun(Exception):
    """The connection failed before the batch's transaction began: safe to run again."""

    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


def _writer_database(database: pw.Database) -> pw.Database:
    """The database the writer's lanes connect to. MariaDB: a database of its own whose
    connections (one per lane thread, kept between batches) accept several statements in
    one query, so a batch costs two round trips instead of five (each is a wake-up of
    this node's thread and of the server's, about 100 µs of CPU on each side). Only the
    writer's connections allow it: the writer's SQL has no literal from outside (every
    value is a parameter), and the pool everyone else uses stays one statement a query."""
    if not isinstance(database, pw.MySQLDatabase):
        return database
    params = dict(database.connect_params)
    params["client_flag"] = int(params.get("client_flag", 0)) | MULTI_STATEMENTS
    return pw.MySQLDatabase(database.database, **params)


class ConversationClosed(SteadyError):
    code, http_status = ErrorCode.CONVERSATION_CLOSED, 409


BatchObserver = Callable[[int, float], None]


class GroupCommitWriter:
    def __init__(
        self,
        database: pw.Database,
        *,
        batch_max: int,
        publish: Callable[[StoredMessage], None],
        observe_batch: BatchObserver | None = None,
        mysql_lanes: int = 1,
        commit_interval: float = 0.0,
    ):
        self._database = _writer_database(database)
        self._mysql = is_mysql(database)
        self._batch_max = (
            batch_max if self._mysql else min(batch_max, SQLITE_MAX_PARAMETERS // ROW_PARAMETERS)
        )
        self._publish = publish
        self._observe_batch = observe_batch
        # The commit policy: a lane starts a commit at most once per ``commit_interval``
        # seconds. A send that finds its lane idle for that long commits at once (a lone
        # message waits for nothing); under load the sends of the interval share one
        # transaction, one fsync and one hand-off to the lane's thread.
        self._commit_interval = commit_interval
        # Lanes commit concurrently, each on its own thread and connection, so one
        # batch's fsync overlaps the next batch's statements. A conversation always goes
        # to the same lane: its messages are stored in the order they were sent. (Across
        # nodes, batches touching one conversation serialise on its row lock, so seqs stay
        # gap-free.) SQLite has one writer at a time anyway: one lane.
        lanes = mysql_lanes if self._mysql else 1
        self._lanes = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"writer{n}") for n in range(lanes)
        ]
        self._queues: list[asyncio.Queue[PendingSend]] = [asyncio.Queue() for _ in range(lanes)]
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._param = database.param
        self._msg_table = _quoted(database, Message._meta.table_name)
        self._conv_table = _quoted(database, Conversation._meta.table_name)
        self._attachment_table = _quoted(database, Attachment._meta.table_name)
        # The writer inserts with raw SQL, so it seals and opens through the model's field.
        body_field: Any = Message.body
        self._seal: Callable[[str], str] = body_field.db_value
        self._unseal: Callable[[str], str] = body_field.python_value

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._run(lane, queue), name=f"group-commit-{n}")
            for n, (lane, queue) in enumerate(zip(self._lanes, self._queues, strict=True))
        ]

    def submit(self, pending: PendingSend) -> asyncio.Future[SendResult]:
        if self._closing:
            pending.future.set_exception(Unavailable("server is shutting down, send again"))
        else:
            pending.queued_at = time.perf_counter()
            queues = self._queues
            queues[hash(pending.conv) % len(queues)].put_nowait(pending)
        return pending.future

    @property
    def backlog(self) -> int:
        return sum(queue.qsize() for queue in self._queues)

    async def drain_and_stop(self, grace_secs: float) -> None:
        """Refuse new sends, commit what is queued, then stop (graceful shutdown)."""
        self._closing = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_secs):
                for queue in self._queues:
                    await queue.join()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for queue in self._queues:
            while not queue.empty():
                pending = queue.get_nowait()
                if not pending.future.done():
                    pending.future.set_exception(Unavailable("server is shutting down, send again"))
        loop = asyncio.get_running_loop()
        for lane in self._lanes:
            await loop.run_in_executor(lane, self._database.close)
            lane.shutdown(wait=True)

    async def _run(self, lane: ThreadPoolExecutor, queue: asyncio.Queue[PendingSend]) -> None:
        """Gather a batch, hand it to the lane's thread, wait for its commit, again.

        A batch costs the loop one wake-up for the hand-off back: the thread ends its
        commit with one ``call_soon_threadsafe`` of ``_settle``, which resolves every
        future of the batch (acks) and publishes its messages in that one callback."""
        loop = asyncio.get_running_loop()
        interval = self._commit_interval
        started = -interval
        while True:
            batch = [await queue.get()]
            committed: asyncio.Future[None] = loop.create_future()
            try:
                linger = started + interval - time.perf_counter()
                if linger > 0 and queue.qsize() + 1 < self._batch_max:
                    # The lane's previous commit started less than `interval` ago: the
                    # sends of the rest of it share this commit.
                    await asyncio.sleep(linger)
                chars = len(batch[0].body)
                while (
                    len(batch) < self._batch_max and chars < BATCH_BODY_CHARS and not queue.empty()
                ):
                    pending = queue.get_nowait()
                    batch.append(pending)
                    chars += len(pending.body)
                started = time.perf_counter()
                lane.submit(self._commit_in_thread, loop, batch, started, committed)
                await committed
            except asyncio.CancelledError:
                # Shutdown while a batch lingers or commits (a commit finishes in the
                # thread; a send it stored is answered by its resend, with its ack).
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(Unavailable("server is shutting down"))
                raise

    def _settle(
        self,
        batch: list[PendingSend],
        outcomes: list[SendResult | SteadyError],
        started: float,
        committed: asyncio.Future[None],
    ) -> None:
        """On the loop, once per batch: the acks, then the messages to their readers."""
        if self._observe_batch:
            self._observe_batch(len(batch), time.perf_counter() - started)
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.future.done():
                continue
            if isinstance(outcome, BaseException):
                pending.future.set_exception(outcome)
            else:
                pending.future.set_result(outcome)
        for outcome in outcomes:
            if isinstance(outcome, SendResult) and not outcome.duplicate:
                self._publish(outcome.message)
        queue = self._queues[hash(batch[0].conv) % len(self._queues)]
        for _ in batch:
            queue.task_done()
        if not committed.done():
            committed.set_result(None)

    # -- in the writer thread --------------------------------------------------------
    def _commit_in_thread(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[PendingSend],
        started: float,
        committed: asyncio.Future[None],
    ) -> None:
        outcomes: list[SendResult | SteadyError]
        try:
            outcomes = self._commit_with_retry(batch)
        except SteadyError as err:
            outcomes = [err] * len(batch)
        except Exception as err:
            log.exception("group commit failed")
            outcomes = [Unavailable(f"storage error: {type(err).__name__}")] * len(batch)
        loop.call_soon_threadsafe(self._settle, batch, outcomes, started, committed)

    def _commit_with_retry(self, batch: list[PendingSend]) -> list[SendResult | SteadyError]:
        # Optimistic first: resends are rare (they follow a lost ack), so the common batch
        # skips the duplicate lookup; the unique index catches a resend and the batch then
        # runs again with the lookup.
        check_existing = False
        conflicts = 0
        reconnected = False
        for attempt in range(INTEGRITY_RETRIES + LOCK_CONFLICT_RETRIES + 2):
            try:
                # The writer thread keeps its connection between batches (no pool
                # checkout per batch); a broken one is handed back and replaced.
                if self._database.is_closed():
                    self._database.connect()
                    if self._mysql:
                        # Row locks on the counters are all the writer needs; without
                        # gap locks, lanes and nodes inserting into neighbouring
                        # conversations do not deadlock each other.
                        self._database.execute_sql(
                            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"
                        )
                return self._commit(batch, check_existing)
            except _NotBegun as err:
                # The connection was lost before the transaction began (a connection
                # idle past the server's wait_timeout, a restarted server): nothing of the
                # batch ran, so it runs once more on a new connection.
                self._database.close()
                if reconnected:
                    log.warning("commit failed, database unavailable: %s", err.cause)
                    raise Unavailable("storage is unavailable, send again") from err.cause
                reconnected = True
            except pw.IntegrityError:
                if check_existing and attempt >= INTEGRITY_RETRIES:
                    raise
                check_existing = True
            except pw.OperationalError as err:
                if (
                    _error_number(err) in RETRYABLE_MYSQL_ERRORS
                    and conflicts < LOCK_CONFLICT_RETRIES
                ):
                    conflicts += 1  # deadlock or lock wait between lanes/nodes: run it again
                    time.sleep(random.uniform(0.001, 0.005) * conflicts)
                    continue
                log.warning("commit failed, database unavailable: %s", err)
                self._database.close()
                raise Unavailable("storage is unavailable, send again") from err
            except UNAVAILABLE_ERRORS as err:
                log.warning("commit failed, database unavailable: %s", err)
                self._database.close()
                raise Unavailable("storage is unavailable, send again") from err
        raise AssertionError("unreachable")

    def _stored_duplicates(
        self, batch: list[PendingSend]
    ) -> dict[tuple[str, str, str, str, str], StoredMessage]:
        pairs = sorted({(p.conv, p.cid) for p in batch})
        marks = ",".join([f"({self._param},{self._param})"] * len(pairs))
        cursor = self._database.execute_sql(
            f"SELECT id, tenant_id, conversation_id, seq, kind, sender_type, sender_id, "
            f"sender_name, cid, body, created_ms FROM {self._msg_table} "
            f"WHERE (conversation_id, cid) IN ({marks})",
            [value for pair in pairs for value in pair],
        )
        found = {}
        for row in cursor.fetchall():
            message = StoredMessage.from_row(row)
            message.body = self._unseal(message.body)  # raw SQL: open sealed bodies here
            message.html = RENDERED.html(message.id, message.body)
            # Keyed by tenant too: the lookup spans the batch's tenants, and another
            # tenant's message is never anyone's "already stored" (tenant guard exception).
            found[(message.tenant_id, *_key(message))] = message
        return found

    def _commit(
        self, batch: list[PendingSend], check_existing: bool
    ) -> list[SendResult | SteadyError]:
        """One transaction for the batch. On MariaDB it takes two round trips: the first
        begins and locks the conversations' rows, the last inserts, moves the counters
        and commits (the writer's connections accept several statements at once,
        ``_writer_database``); a resend lookup or an attachment claim adds its own."""
        conv_ids = sorted({p.conv for p in batch})
        lock = (
            f"SELECT id, tenant_id, status, last_seq, assignee_id, assignee_type "
            f"FROM {self._conv_table} WHERE id IN ({','.join([self._param] * len(conv_ids))}) "
            f"ORDER BY id"
        )
        # Rendered once, here on the writer's thread and before the transaction: every
        # recipient, sync and replay reuses it (server/chat/rendered.py).
        rendered = {p.body: render_html(p.body) for p in batch}
        if not self._mysql:
            with self._database.atomic("IMMEDIATE"):
                rows = self._database.execute_sql(lock, conv_ids).fetchall()
                outcomes, writes = self._apply(batch, rows, rendered, check_existing)
                for sql, args in writes:
                    self._database.execute_sql(sql, args)
            return outcomes
        try:
            rows = self._statements(f"START TRANSACTION; {lock} FOR UPDATE", conv_ids)
        except UNAVAILABLE_ERRORS as err:
            if _error_number(err) in RETRYABLE_MYSQL_ERRORS:
                self._roll_back()  # a lock wait timeout leaves the transaction open
                raise
            raise _NotBegun(err) from err
        try:
            outcomes, writes = self._apply(batch, rows, rendered, check_existing)
            self._statements(
                "; ".join([*(sql for sql, _ in writes), "COMMIT"]),
                [value for _, args in writes for value in args],
            )
        except BaseException:
            self._roll_back()
            raise
        return outcomes

    def _statements(self, sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
        """Run ``sql``, statements separated by ``;``, in one round trip (MariaDB); the
        rows of the last statement that returns any."""
        cursor = self._database.execute_sql(sql, args)
        rows = cursor.fetchall() if cursor.description else []
        with _PEEWEE_ERRORS:  # errors of later statements come with their results
            while cursor.nextset():
                if cursor.description:
                    rows = cursor.fetchall()
        return list(rows)

    def _roll_back(self) -> None:
        try:
            self._database.execute_sql("ROLLBACK")
        except UNAVAILABLE_ERRORS:
            self._database.close()  # the connection is gone, and its transaction with it

    def _apply(
        self,
        batch: list[PendingSend],
        rows: list[tuple[Any, ...]],
        rendered: dict[str, str],
        check_existing: bool,
    ) -> tuple[list[SendResult | SteadyError], list[tuple[str, list[Any]]]]:
        """Inside the transaction, with the conversations' rows locked: each send's
        outcome, and the statements that store the new messages and move the counters."""
        param = self._param
        outcomes: list[SendResult | SteadyError] = []
        writes: list[tuple[str, list[Any]]] = []
        seal = self._seal
        stored = self._stored_duplicates(batch) if check_existing else {}
        convs = {row[0]: [row[1], row[2], int(row[3]), row[4], row[5]] for row in rows}
        if not check_existing:
            # A resend into a conversation closed since its first send must get its
            # original ack, not "closed" (which would store it again elsewhere).
            late = [p for p in batch if convs.get(p.conv, [None, None])[1] == CLOSED]
            if late:
                stored = self._stored_duplicates(late)
        now_ms = int(time.time() * 1000)
        taken: set[str] = set()  # attachments claimed by earlier sends of this batch
        values: list[Any] = []
        fresh: dict[tuple[str, str, str, str, str], StoredMessage] = {}
        audited: list[dict[str, Any]] = []
        for pending in batch:
            key = pending.key
            if key in stored:
                outcomes.append(SendResult(stored[key], duplicate=True))
                continue
            if key in fresh:  # the same cid twice in one batch
                outcomes.append(SendResult(fresh[key], duplicate=True))
                continue
            conv = convs.get(pending.conv)
            if conv is None or conv[0] != pending.tenant_id:
                outcomes.append(NotFound("no such conversation"))
                continue
            if conv[1] == CLOSED:
                outcomes.append(ConversationClosed("the conversation is closed"))
                continue
            claimed: list[dict[str, Any]] | None = None
            if pending.attachment_ids:
                claimed = self._claimable(pending, taken)
                if claimed is None:
                    if not check_existing:
                        # Maybe a resend whose first send claimed them: look again
                        # with the duplicate check, which answers it with its ack.
                        raise pw.IntegrityError("attachments already claimed")
                    outcomes.append(Forbidden("you did not upload these attachments"))
                    continue
            if pending.sender_type == AI and not robot_may_write(
                pending.sender_id, conv[1], conv[3], conv[4]
            ):
                outcomes.append(taken_over())
                continue
            conv[2] += 1
            message = StoredMessage(
                id=new_id(),
                tenant_id=pending.tenant_id,
                conv=pending.conv,
                seq=conv[2],
                kind=pending.kind,
                sender_type=pending.sender_type,
                sender_id=pending.sender_id,
                sender_name=pending.sender_name,
                cid=pending.cid,
                body=pending.body,
                created_ms=now_ms,
                html=rendered[pending.body],
                attachments=claimed,
            )
            if claimed:
                self._claim(message, pending.attachment_ids)
            fresh[key] = message
            if pending.audit_as is not None:
                audited.append(_audit_row(pending.audit_as, message))
            RENDERED.put(message.id, rendered[pending.body])
            values.extend(
                (
                    message.id,
                    message.tenant_id,
                    message.conv,
                    message.seq,
                    message.kind,
                    message.sender_type,
                    message.sender_id,
                    message.sender_name,
                    message.cid,
                    seal(message.body),  # encrypted at rest when a key is configured
                    message.created_ms,
                )
            )
            outcomes.append(
                SendResult(
                    message,
                    duplicate=False,
                    queued=conv[1] == ConversationStatus.QUEUED.value,
                )
            )
        if fresh:
            row_marks = "(" + ",".join([param] * ROW_PARAMETERS) + ")"
            writes.append(
                (
                    f"INSERT INTO {self._msg_table} (id, tenant_id, conversation_id, seq, kind, "
                    f"sender_type, sender_id, sender_name, cid, body, created_ms) VALUES "
                    + ",".join([row_marks] * len(fresh)),
                    values,
                )
            )
            moved = {m.conv: convs[m.conv][2] for m in fresh.values()}
            cases = " ".join([f"WHEN {param} THEN {param}"] * len(moved))
            args: list[Any] = []
            for conv_id, last in moved.items():
                args.extend((conv_id, last))
            args.extend(moved)
            writes.append(
                (
                    f"UPDATE {self._conv_table} SET last_seq = CASE id {cases} END "
                    f"WHERE id IN ({','.join([param] * len(moved))})",
                    args,
                )
            )
        if audited:
            sql, audit_args = AuditLog.insert_many(audited).sql()
            writes.append((sql, list(audit_args)))
        return outcomes, writes

    def _claimable(self, pending: PendingSend, taken: set[str]) -> list[dict[str, Any]] | None:
        """The attachments' metadata, in the order named, if the sender uploaded every one
        (this tenant, this conversation or none yet) and no message claimed it; else None.
        Raw SQL like the rest of the writer: the tenant is in the WHERE clause."""
        ids = pending.attachment_ids
        if len(set(ids)) != len(ids) or taken.intersection(ids):
            return None
        param = self._param
        lock = " FOR UPDATE" if self._mysql else ""
        cursor = self._database.execute_sql(
            f"SELECT id, name, size, mime FROM {self._attachment_table} "
            f"WHERE tenant_id = {param} AND id IN ({','.join([param] * len(ids))}) "
            f"AND uploader_type = {param} AND uploader_id = {param} AND message_id IS NULL "
            f"AND (conversation_id IS NULL OR conversation_id = {param}){lock}",
            [pending.tenant_id, *ids, pending.sender_type, pending.sender_id, pending.conv],
        )
        found = {
            row[0]: {"id": row[0], "name": row[1], "size": int(row[2]), "type": row[3]}
            for row in cursor.fetchall()
        }
        if len(found) != len(ids):
            return None
        taken.update(ids)
        return [found[i] for i in ids]

    def _claim(self, message: StoredMessage, ids: tuple[str, ...]) -> None:
        param = self._param
        self._database.execute_sql(
            f"UPDATE {self._attachment_table} SET message_id = {param}, message_seq = {param}, "
            f"conversation_id = {param} WHERE tenant_id = {param} "
            f"AND id IN ({','.join([param] * len(ids))})",
            [message.id, message.seq, message.conv, message.tenant_id, *ids],
        )
