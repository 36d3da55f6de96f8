"""The group-commit writer (server/chat/writer.py) against a real database, both backends:
batching, seq, the resend (conflict) lookup, retries, and the tenant checks it makes in
place of the tenant guard (its raw SQL is the guard's documented exception)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import peewee as pw
import pytest
import pytest_asyncio

from server.chat.records import SendResult, StoredMessage
from server.chat.writer import ConversationClosed, GroupCommitWriter, PendingSend
from server.errors import NotFound, Unavailable
from server.ids import new_id
from server.kernel.enums import ConversationStatus
from server.storage.guard import TenantScope, cross_tenant
from server.storage.models import Conversation, Message, Tenant

ALPHA, BETA = "walpha", "wbeta"


class Writer:
    """A started writer, what it published, and the sizes of the batches it committed."""

    def __init__(self, database: pw.Database, batch_max: int) -> None:
        self.published: list[StoredMessage] = []
        self.batches: list[int] = []
        self.writer = GroupCommitWriter(
            database,
            batch_max=batch_max,
            publish=self.published.append,
            observe_batch=lambda size, _secs: self.batches.append(size),
        )

    def submit(
        self, tenant: str, conv: str, cid: str, body: str = "hi", *, sender: str = "visitor1"
    ) -> asyncio.Future[SendResult]:
        future: asyncio.Future[SendResult] = asyncio.get_running_loop().create_future()
        pending = PendingSend(
            tenant_id=tenant,
            conv=conv,
            kind="text",
            sender_type="visitor",
            sender_id=sender,
            sender_name="Visitor",
            cid=cid,
            body=body,
            future=future,
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


async def test_a_lock_conflict_runs_the_batch_again(writer: Writer) -> None:
    # MariaDB answers a deadlock (1213) or a lock wait timeout (1205) between lanes or
    # nodes by rolling the transaction back: the writer runs the batch again.
    conv = new_conversation(ALPHA)
    failing = fail_first(writer, lambda: pw.OperationalError(1213, "Deadlock found"))
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
