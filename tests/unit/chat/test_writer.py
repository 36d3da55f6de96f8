"""The group-commit writer (server/chat/writer.py) against a real database, both backends:
batching, seq, the resend (conflict) lookup, retries, and the tenant checks it makes in
place of the tenant guard (its raw SQL is the guard's documented exception)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import peewee as pw
import pytest
import pytest_asyncio

from server.chat import writer as writer_module
from server.chat.records import SendResult, StoredMessage
from server.chat.writer import (
    LOCK_CONFLICT_RETRIES,
    ConversationClosed,
    GroupCommitWriter,
    PendingSend,
)
from server.errors import NotFound, Unavailable
from server.ids import new_id
from server.kernel.actors import Actor
from server.kernel.enums import ConversationStatus, SenderType
from server.storage.database import is_mysql
from server.storage.guard import TenantScope, cross_tenant
from server.storage.models import AuditLog, Conversation, Message, Tenant

ALPHA, BETA = "walpha", "wbeta"


class Writer:
    """A started writer, what it published, and the sizes of the batches it committed."""

    def __init__(
        self,
        database: pw.Database,
        batch_max: int,
        mysql_lanes: int = 1,
        commit_interval: float = 0.0,
    ) -> None:
        self.published: list[StoredMessage] = []
        self.batches: list[int] = []
        self.writer = GroupCommitWriter(
            database,
            batch_max=batch_max,
            publish=self.published.append,
            observe_batch=lambda size, _secs: self.batches.append(size),
            mysql_lanes=mysql_lanes,
            commit_interval=commit_interval,
        )

    def submit(
        self,
        tenant: str,
        conv: str,
        cid: str,
        body: str = "hi",
        *,
        sender: str = "visitor1",
        audit_as: Actor | None = None,
    ) -> asyncio.Future[SendResult]:
        future: asyncio.Future[SendResult] = asyncio.get_running_loop().create_future()
        pending = PendingSend(
            tenant_id=tenant,
            conv=conv,
            kind="text",
            sender_type=audit_as.type.value if audit_as else "visitor",
            sender_id=audit_as.id if audit_as else sender,
            sender_name=audit_as.name if audit_as else "Visitor",
            cid=cid,
            body=body,
            future=future,
            audit_as=audit_as,
        )
        return self.writer.submit(pending)


@pytest.fixture(scope="module")
def tenants(database: pw.Database) -> None:
    for slug in (ALPHA, BETA):
        if Tenant.get_or_none(Tenant.id == slug) is None:
            Tenant.create(id=slug, name=slug)


@pytest_asyncio.fixture
async def writer(database: pw.Database, tenants: None) -> AsyncIterator[Writer]:
    made = Writer(database, batch_max=4)
    made.writer.start()
    try:
        yield made
    finally:
        await made.writer.drain_and_stop(5)


def new_conversation(
    tenant: str, *, last_seq: int = 0, status: ConversationStatus = ConversationStatus.ACTIVE
) -> str:
    conv, visitor = new_id(), new_id()
    TenantScope(tenant).create(
        Conversation,
        id=conv,
        site_id="site",
        visitor_id=visitor,
        last_seq=last_seq,
        status=status.value,
        open_key=None if status is ConversationStatus.CLOSED else visitor,
    )
    return conv


def set_status(tenant: str, conv: str, status: ConversationStatus) -> None:
    TenantScope(tenant).update(Conversation, status=status.value, open_key=None).where(
        Conversation.id == conv
    ).execute()


def stored(conv: str) -> list[tuple[Any, ...]]:
    with cross_tenant():  # every row of the conversation, whoever's tenant it says
        return list(
            Message.select(Message.tenant_id, Message.seq, Message.cid, Message.body)
            .where(Message.conversation_id == conv)
            .order_by(Message.seq)
            .tuples()
        )


def last_seq(conv: str) -> int:
    with cross_tenant():
        return int(Conversation.get(Conversation.id == conv).last_seq)


async def test_sends_queued_together_commit_in_batches_of_at_most_batch_max(
    writer: Writer,
) -> None:
    conv = new_conversation(ALPHA)
    futures = [writer.submit(ALPHA, conv, f"c{n}") for n in range(10)]
    results = await asyncio.gather(*futures)
    # All ten were queued before the writer ran: 4 + 4 + 2, one transaction each.
    assert writer.batches == [4, 4, 2]
    assert [r.message.seq for r in results] == list(range(1, 11))
    assert not any(r.duplicate for r in results)
    assert [m.seq for m in writer.published] == list(range(1, 11))


async def test_seq_continues_each_conversations_counter_without_gaps(writer: Writer) -> None:
    a, b = new_conversation(ALPHA, last_seq=7), new_conversation(ALPHA)
    futures = [writer.submit(ALPHA, a if n % 2 else b, f"s{n}") for n in range(9)]
    results = await asyncio.gather(*futures)
    assert [r.message.seq for r in results if r.message.conv == a] == [8, 9, 10, 11]
    assert [r.message.seq for r in results if r.message.conv == b] == [1, 2, 3, 4, 5]
    assert [row[1] for row in stored(a)] == [8, 9, 10, 11] and last_seq(a) == 11
    assert [row[1] for row in stored(b)] == [1, 2, 3, 4, 5] and last_seq(b) == 5
    # Acked means committed: the stored row is what the ack said.
    first = results[1].message
    assert stored(a)[0] == (ALPHA, 8, first.cid, first.body)


async def test_refused_sends_in_a_batch_take_no_seq(writer: Writer) -> None:
    conv, closed = new_conversation(ALPHA), new_conversation(ALPHA)
    set_status(ALPHA, closed, ConversationStatus.CLOSED)
    futures = [
        writer.submit(ALPHA, conv, "a"),
        writer.submit(ALPHA, "no-such-conversation", "x"),
        writer.submit(ALPHA, conv, "b"),
        writer.submit(ALPHA, closed, "y"),
    ]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert writer.batches == [4]
    assert isinstance(outcomes[1], NotFound) and isinstance(outcomes[3], ConversationClosed)
    assert [o.message.seq for o in outcomes if isinstance(o, SendResult)] == [1, 2]
    assert [row[1:3] for row in stored(conv)] == [(1, "a"), (2, "b")] and last_seq(conv) == 2
    assert stored(closed) == [] and last_seq(closed) == 0


async def test_with_several_lanes_each_conversation_keeps_the_order_it_was_sent_in(
    database: pw.Database, tenants: None
) -> None:
    # MariaDB commits on three lanes at once (SQLite has one writer: one lane); a
    # conversation always goes to the same lane, so its seqs follow the sending order.
    made = Writer(database, batch_max=3, mysql_lanes=3)
    made.writer.start()
    try:
        convs = [new_conversation(ALPHA) for _ in range(5)]
        futures = [made.submit(ALPHA, convs[n % 5], f"n{n:02}") for n in range(40)]
        results = await asyncio.gather(*futures)
    finally:
        await made.writer.drain_and_stop(5)
    for conv in convs:
        mine = [r.message for r in results if r.message.conv == conv]
        assert [m.seq for m in mine] == list(range(1, 9))
        assert [m.cid for m in mine] == sorted(m.cid for m in mine)
        assert [(row[1], row[2]) for row in stored(conv)] == [(m.seq, m.cid) for m in mine]
        assert [m.seq for m in made.published if m.conv == conv] == list(range(1, 9))


async def test_a_stop_commits_what_is_queued_and_refuses_what_comes_after(
    database: pw.Database, tenants: None
) -> None:
    made = Writer(database, batch_max=4)
    made.writer.start()
    conv = new_conversation(ALPHA)
    queued = [made.submit(ALPHA, conv, f"q{n}") for n in range(6)]
    await made.writer.drain_and_stop(5)
    assert [(await future).message.seq for future in queued] == list(range(1, 7))
    with pytest.raises(Unavailable):
        await made.submit(ALPHA, conv, "late")
    assert len(stored(conv)) == 6 and last_seq(conv) == 6


async def test_a_resend_gets_the_original_ack_and_is_stored_and_published_once(
    writer: Writer,
) -> None:
    conv = new_conversation(ALPHA)
    original = await writer.submit(ALPHA, conv, "once", "first")
    calls: list[bool] = []
    commit = writer.writer._commit

    def observed(batch: list[PendingSend], check_existing: bool) -> Any:
        calls.append(check_existing)
        return commit(batch, check_existing)

    writer.writer._commit = observed  # type: ignore[method-assign]
    # The resend shares its batch with a new message; the unique index catches it and the
    # batch runs again with the lookup: the new one is stored once, the resend not at all.
    again = writer.submit(ALPHA, conv, "once", "changed on the way")
    fresh = writer.submit(ALPHA, conv, "new")
    resent, new = await again, await fresh
    assert calls == [False, True]
    assert resent.duplicate and not original.duplicate and not new.duplicate
    assert (resent.message.id, resent.message.seq) == (original.message.id, 1)
    assert resent.message.body == "first"
    assert resent.ack() == original.ack()
    assert new.message.seq == 2
    assert [(row[1], row[2]) for row in stored(conv)] == [(1, "once"), (2, "new")]
    assert [m.cid for m in writer.published] == ["once", "new"]


async def test_the_same_cid_twice_in_one_batch_is_stored_once(writer: Writer) -> None:
    conv = new_conversation(ALPHA)
    first, second = writer.submit(ALPHA, conv, "twin"), writer.submit(ALPHA, conv, "twin")
    one, two = await first, await second
    assert not one.duplicate and two.duplicate and one.message.id == two.message.id
    # Another sender's cid is another message.
    other = await writer.submit(ALPHA, conv, "twin", sender="visitor2")
    assert not other.duplicate and other.message.seq == 2
    assert len(stored(conv)) == 2


async def test_a_resend_after_the_close_gets_its_ack_and_a_new_send_gets_closed(
    writer: Writer,
) -> None:
    conv = new_conversation(ALPHA)
    original = await writer.submit(ALPHA, conv, "before")
    set_status(ALPHA, conv, ConversationStatus.CLOSED)
    resent = await writer.submit(ALPHA, conv, "before")
    assert resent.duplicate and resent.ack() == original.ack()
    with pytest.raises(ConversationClosed):
        await writer.submit(ALPHA, conv, "after")
    assert len(stored(conv)) == 1 and last_seq(conv) == 1


@pytest.mark.parametrize("code", [1213, 1205], ids=["deadlock", "lock_wait_timeout"])
async def test_a_lock_conflict_runs_the_batch_again(writer: Writer, code: int) -> None:
    # MariaDB answers a deadlock (1213) or a lock wait timeout (1205) between lanes or
    # nodes by rolling the transaction back: the writer runs the batch again.
    conv = new_conversation(ALPHA)
    failing = fail_first(writer, lambda: pw.OperationalError(code, "lock conflict"))
    result = await writer.submit(ALPHA, conv, "retried")
    assert failing == [True, False]
    assert result.message.seq == 1 and not result.duplicate
    assert [row[2] for row in stored(conv)] == ["retried"]


async def test_an_unavailable_database_fails_the_batch_and_the_next_one_commits(
    writer: Writer,
) -> None:
    conv = new_conversation(ALPHA)
    fail_first(writer, lambda: pw.OperationalError(2013, "Lost connection"))
    lost = [writer.submit(ALPHA, conv, "lost1"), writer.submit(ALPHA, conv, "lost2")]
    for future in lost:
        with pytest.raises(Unavailable):
            await future
    assert stored(conv) == []
    result = await writer.submit(ALPHA, conv, "later")
    assert result.message.seq == 1


async def test_lock_conflicts_past_the_retries_fail_the_batch_and_store_nothing(
    writer: Writer,
) -> None:
    conv = new_conversation(ALPHA)
    attempts: list[bool] = []
    commit = writer.writer._commit

    def conflicting(batch: list[PendingSend], check_existing: bool) -> Any:
        attempts.append(check_existing)
        raise pw.OperationalError(1213, "Deadlock found")

    writer.writer._commit = conflicting  # type: ignore[method-assign]
    with pytest.raises(Unavailable):
        await writer.submit(ALPHA, conv, "never")
    assert len(attempts) == LOCK_CONFLICT_RETRIES + 1  # the first try, then each retry
    writer.writer._commit = commit  # type: ignore[method-assign]
    assert (await writer.submit(ALPHA, conv, "next")).message.seq == 1
    assert [row[2] for row in stored(conv)] == ["next"] and writer.published[-1].cid == "next"


async def test_a_connection_lost_while_its_batch_waits_is_replaced_and_the_batch_runs_again(
    writer: Writer, database: pw.Database
) -> None:
    if not is_mysql(database):
        pytest.skip("MariaDB kills connections; SQLite has none to lose")
    conv = new_conversation(ALPHA)
    assert (await writer.submit(ALPHA, conv, "before")).message.seq == 1
    conv_table = Conversation._meta.table_name
    with database.atomic():
        # Hold the conversation's row: the writer's next batch waits for it in its first
        # round trip (the transaction's start), and its connection is killed there. Nothing
        # of the batch ran: it runs once more, on a new connection.
        database.execute_sql(f"SELECT id FROM {conv_table} WHERE id = %s FOR UPDATE", [conv])
        retried = writer.submit(ALPHA, conv, "retried")
        first = await waiting_writer(database)
        database.execute_sql(f"KILL {first}")
        second = await waiting_writer(database, not_in={first})
    assert second != first
    assert (await retried).message.seq == 2
    assert [row[2] for row in stored(conv)] == ["before", "retried"] and last_seq(conv) == 2


async def test_a_connection_lost_twice_fails_its_batch_then_is_replaced(
    writer: Writer, database: pw.Database
) -> None:
    if not is_mysql(database):
        pytest.skip("MariaDB kills connections; SQLite has none to lose")
    conv = new_conversation(ALPHA)
    assert (await writer.submit(ALPHA, conv, "before")).message.seq == 1
    conv_table = Conversation._meta.table_name
    with database.atomic():
        database.execute_sql(f"SELECT id FROM {conv_table} WHERE id = %s FOR UPDATE", [conv])
        lost = writer.submit(ALPHA, conv, "lost")
        first = await waiting_writer(database)
        database.execute_sql(f"KILL {first}")
        second = await waiting_writer(database, not_in={first})
        database.execute_sql(f"KILL {second}")
        with pytest.raises(Unavailable):
            await lost
    after = await writer.submit(ALPHA, conv, "after")
    assert after.message.seq == 2  # the lost send took no seq: no gap
    assert [row[2] for row in stored(conv)] == ["before", "after"] and last_seq(conv) == 2


async def test_an_idle_connection_killed_between_batches_is_replaced_before_the_next(
    writer: Writer, database: pw.Database
) -> None:
    if not is_mysql(database):
        pytest.skip("MariaDB kills connections; SQLite has none to lose")
    conv = new_conversation(ALPHA)
    assert (await writer.submit(ALPHA, conv, "before")).message.seq == 1
    loop = asyncio.get_running_loop()
    lane = writer.writer._lanes[0]  # the writer's thread keeps its connection
    own = writer.writer._database  # the writer's own connections (several statements a query)
    idle = int(
        await loop.run_in_executor(
            lane, lambda: own.execute_sql("SELECT CONNECTION_ID()").fetchone()[0]
        )
    )
    database.execute_sql(f"KILL {idle}")  # e.g. past the server's wait_timeout overnight
    assert (await writer.submit(ALPHA, conv, "after")).message.seq == 2
    assert [row[2] for row in stored(conv)] == ["before", "after"]


async def waiting_writer(database: pw.Database, not_in: set[int] | None = None) -> int:
    """The writer's connection once MariaDB shows it waiting for the locked row."""
    for _ in range(500):
        rows = database.execute_sql(
            "SELECT ID FROM information_schema.PROCESSLIST "
            "WHERE DB = DATABASE() AND INFO LIKE %s AND ID <> CONNECTION_ID()",
            ["%FOR UPDATE"],
        ).fetchall()
        found = [int(row[0]) for row in rows if int(row[0]) not in (not_in or set())]
        if found:
            return found[0]
        await asyncio.sleep(0.01)
    raise AssertionError("the writer never reached the locked row")


def fail_first(writer: Writer, error: Callable[[], Exception]) -> list[bool]:
    """Make the writer's next commit attempt raise ``error()``; returns a log of attempts
    (True: the one that failed)."""
    attempts: list[bool] = []
    commit = writer.writer._commit

    def once(batch: list[PendingSend], check_existing: bool) -> Any:
        attempts.append(not attempts)
        if len(attempts) == 1:
            raise error()
        return commit(batch, check_existing)

    writer.writer._commit = once  # type: ignore[method-assign]
    return attempts


# -- the tenant guard's exception: the writer's own checks -----------------------------


async def test_a_send_into_another_tenants_conversation_writes_nothing(writer: Writer) -> None:
    theirs = new_conversation(ALPHA, last_seq=3)
    mine = new_conversation(BETA)
    foreign = writer.submit(BETA, theirs, "intrude", "not yours")
    own = writer.submit(BETA, mine, "fine")  # same batch: it still commits
    with pytest.raises(NotFound):
        await foreign
    assert (await own).message.seq == 1
    assert stored(theirs) == [] and last_seq(theirs) == 3
    assert [row[0] for row in stored(mine)] == [BETA]
    assert [m.conv for m in writer.published] == [mine]


async def test_another_tenants_stored_message_is_never_an_already_stored_ack(
    writer: Writer,
) -> None:
    # Beta sends with the exact key of Alpha's stored message (same conversation, sender
    # and cid) into Alpha's closed conversation: the resend lookup finds Alpha's message,
    # which must not come back to Beta as "already stored", with Alpha's body in it.
    theirs = new_conversation(ALPHA)
    secret = await writer.submit(ALPHA, theirs, "k1", "alpha's secret")
    set_status(ALPHA, theirs, ConversationStatus.CLOSED)
    with pytest.raises(NotFound):
        await writer.submit(BETA, theirs, "k1", "guess")
    # The same in an open conversation, where the lookup runs after the unique index
    # caught the collision (Alpha's own resend in the batch makes it run).
    open_theirs = new_conversation(ALPHA)
    await writer.submit(ALPHA, open_theirs, "k2", "alpha's other secret")
    alpha_resend = writer.submit(ALPHA, open_theirs, "k2")
    beta_guess = writer.submit(BETA, open_theirs, "k2")
    assert (await alpha_resend).duplicate
    with pytest.raises(NotFound):
        await beta_guess
    assert [row[0] for row in stored(theirs) + stored(open_theirs)] == [ALPHA, ALPHA]
    assert secret.message.tenant_id == ALPHA


# -- a bridge's sends: audited by their batch's transaction --------------------------


def via_bridge(tenant: str) -> Actor:
    """An agent acting through a bridge, as ``ws_bridges.dispatch`` hands it on."""
    return Actor(
        SenderType.AGENT,
        "agent-ann",
        tenant,
        "Ann",
        via="bridge-1",
        via_name="Support Slack",
        audit_ip="10.1.2.3",
    )


def sends_audited(tenant: str) -> list[tuple[Any, ...]]:
    query = (
        TenantScope(tenant)
        .select(
            AuditLog, AuditLog.actor, AuditLog.actor_name, AuditLog.target, AuditLog.ip,
            AuditLog.summary,
        )
        .where(AuditLog.action == "message.send")
        .order_by(AuditLog.id)
    )
    return [(*row[:4], orjson.loads(row[4])) for row in query.tuples()]


async def test_a_bridges_stored_send_has_its_audit_row_and_nothing_else_does(
    writer: Writer,
) -> None:
    conv, theirs = new_conversation(BETA), new_conversation(ALPHA)
    ann = via_bridge(BETA)
    before = len(sends_audited(BETA))
    bridged = writer.submit(BETA, conv, "b1", audit_as=ann)
    visitor = writer.submit(BETA, conv, "v1")
    again = writer.submit(BETA, conv, "b1", audit_as=ann)  # a resend: audited once
    foreign = writer.submit(BETA, theirs, "b2", audit_as=ann)  # refused: not audited
    stored_one, _, resent = await asyncio.gather(bridged, visitor, again)
    with pytest.raises(NotFound):
        await foreign
    assert resent.duplicate
    message = stored_one.message
    assert sends_audited(BETA)[before:] == [
        (
            "agent:agent-ann via bridge:bridge-1",
            "Ann via Support Slack",
            conv,
            "10.1.2.3",
            {"message": message.id, "seq": message.seq, "kind": "text"},
        )
    ]
    assert sends_audited(ALPHA) == []


async def test_a_send_whose_audit_row_fails_is_not_stored(
    writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One transaction: the database refusing the audit row refuses the batch's messages
    too (and the next batch, audited as it should be, commits)."""
    conv = new_conversation(BETA)
    real = writer_module._audit_row

    def refused_by_the_database(actor: Actor, message: StoredMessage) -> dict[str, Any]:
        return {**real(actor, message), "action": None}  # NOT NULL

    monkeypatch.setattr(writer_module, "_audit_row", refused_by_the_database)
    outcomes = await asyncio.gather(
        writer.submit(BETA, conv, "b1", audit_as=via_bridge(BETA)),
        writer.submit(BETA, conv, "v1"),
        return_exceptions=True,
    )
    assert [type(o) for o in outcomes] == [Unavailable, Unavailable]
    assert stored(conv) == [] and last_seq(conv) == 0
    monkeypatch.setattr(writer_module, "_audit_row", real)
    again = await writer.submit(BETA, conv, "b1", audit_as=via_bridge(BETA))
    assert again.message.seq == 1 and not again.duplicate
    assert sends_audited(BETA)[-1][2:4] == (conv, "10.1.2.3")
