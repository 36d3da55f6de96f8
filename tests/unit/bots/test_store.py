"""The bridge's state store: cursor and outbox move together, our echoes are recognised,
seen event ids are remembered; on SQLite and on MariaDB (``mysql://``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bots.core.model import Author, Conversation, Item, ItemKind, OpKind, ThreadRef, Visitor
from bots.core.store import SEEN_KEEP_SECS, StateStore
from tests.cluster.test_failover import _kill_node_connections
from tests.support.services import create_mysql_database, drop_mysql_database


def item(seq: int, cid: str | None = None) -> Item:
    return Item("c1", seq, ItemKind.MESSAGE, f"m{seq}", Author("visitor", "v1", "Ada"), "", cid)


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> StateStore:
    database = None
    if request.param == "mysql":
        database = create_mysql_database()
        location = database.url
    else:
        location = str(tmp_path / "state.sqlite3")
    s = StateStore(location)
    await s.open()
    await s.start_thread(Conversation("c1", Visitor("Ada")), "C1")
    yield s  # type: ignore[misc]
    await s.close()
    if database is not None:
        drop_mysql_database(database.name)


async def test_accept_queues_in_order_and_moves_the_cursor(store: StateStore) -> None:
    accepted = await store.accept("c1", [item(2), item(1)])
    assert (accepted.queued, accepted.cursor, accepted.gap_after) == (2, 2, None)
    again = await store.accept("c1", [item(1), item(2), item(3)])
    assert (again.queued, again.cursor) == (1, 3)
    ops = await store.head("c1", 10)
    assert [op.kind for op in ops] == [OpKind.OPEN, OpKind.POST, OpKind.POST, OpKind.POST]
    assert [op.seq for op in ops[1:]] == [1, 2, 3]
    assert await store.resume_map() == {"c1": 3}


async def test_a_gap_stops_the_cursor_and_asks_for_a_sync(store: StateStore) -> None:
    accepted = await store.accept("c1", [item(1), item(3)])
    assert (accepted.cursor, accepted.gap_after) == (1, 1)
    assert [op.seq for op in await store.head("c1", 10)] == [None, 1]


async def test_our_own_reply_coming_back_is_not_queued(store: StateStore) -> None:
    assert await store.record_inbound(
        "slack:C1:1.2", "c1", {"type": "send"}, {}, channel="C1", platform_id="C1:1.2"
    )
    assert not await store.record_inbound("slack:C1:1.2", "c1", {"type": "send"}, {})
    accepted = await store.accept("c1", [item(1), item(2, cid="slack:C1:1.2")])
    assert (accepted.queued, accepted.cursor) == (1, 2)
    assert (await store.inbound("slack:C1:1.2")).state == "acked"  # type: ignore[union-attr]


async def test_done_records_the_post_and_the_thread(store: StateStore) -> None:
    await store.accept("c1", [item(1)])
    opened, first = await store.head("c1", 2)
    await store.op_done(
        opened, channel="C1", platform_id="100.1", thread=ThreadRef("C1", "100.1"), also_done=first
    )
    assert await store.head("c1") == []
    thread = await store.thread("c1")
    assert thread is not None and thread.ref == ThreadRef("C1", "100.1")
    assert await store.thread_by_root("C1", "100.1") == thread
    assert await store.posts("c1") == {1: "100.1"}


async def test_in_flight_is_kept_until_the_outcome_is_known(store: StateStore) -> None:
    (opened,) = await store.head("c1")
    await store.begin_attempt(opened.id)
    (again,) = await store.head("c1")
    assert again.in_flight and again.attempts == 1
    await store.attempt_failed(opened.id)
    (cleared,) = await store.head("c1")
    assert not cleared.in_flight


async def test_event_ids_are_remembered_for_at_least_an_hour(store: StateStore) -> None:
    assert await store.first_sight("Ev1")
    assert not await store.first_sight("Ev1")
    await store.prune(time.time() + 3600)
    assert not await store.first_sight("Ev1")
    await store.prune(time.time() + SEEN_KEEP_SECS + 1)
    assert await store.first_sight("Ev1")


async def test_state_survives_a_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sqlite3")
    first = StateStore(path)
    await first.open()
    await first.start_thread(Conversation("c9"), "C1")
    await first.link("T1:U1", "agent-1")
    await first.close()
    second = StateStore(path)
    await second.open()
    assert await second.agent_for("T1:U1") == "agent-1"
    assert await second.resume_map() == {"c9": 0}
    await second.close()


@pytest.mark.mysql
async def test_a_lost_mysql_connection_is_reconnected(tmp_path: Path) -> None:
    database = create_mysql_database()
    store = StateStore(database.url)
    try:
        await store.open()
        await store.start_thread(Conversation("c1", Visitor("Ada")), "C1")
        assert await asyncio.to_thread(_kill_node_connections, database.name) == 1
        accepted = await store.accept("c1", [item(1)])  # a transaction first
        assert accepted.cursor == 1
        assert await asyncio.to_thread(_kill_node_connections, database.name) == 1
        assert await store.resume_map() == {"c1": 1}  # and a plain read
    finally:
        await store.close()
        drop_mysql_database(database.name)


async def test_event_ids_are_kept_once_handled(store: StateStore) -> None:
    assert not await store.seen("Ev2")
    await store.remember("Ev2")
    await store.remember("Ev2")
    assert await store.seen("Ev2")


async def test_links_follow_the_servers_list(store: StateStore) -> None:
    await store.link("T1:U1", "agent-1")
    await store.link("T1:U2", "agent-2")
    asked_at = time.time()
    await store.link("T1:U5", "agent-5")  # linked here while the list was on its way
    await store.replace_links({"T1:U2": "agent-3", "T1:U4": "agent-4"}, older_than=asked_at)
    assert await store.agent_for("T1:U1") is None
    assert await store.agent_for("T1:U5") == "agent-5"
    assert await store.agent_for("T1:U2") == "agent-3"
    assert await store.agent_for("T1:U4") == "agent-4"


async def test_a_thread_left_for_another_channel_is_remembered(store: StateStore) -> None:
    (opened,) = await store.head("c1")
    await store.op_done(opened, channel="C1", platform_id="1.1", thread=ThreadRef("C1", "1.1"))
    assert await store.move_thread("c1", "dept", "C2")
    (move,) = await store.head("c1")
    await store.op_done(move, channel="C2", platform_id="2.2", thread=ThreadRef("C2", "2.2"))
    assert await store.former_thread("C1", "1.1") == "c1"
    assert await store.former_thread("C2", "2.2") is None
    assert await store.thread_by_root("C1", "1.1") is None
    assert (await store.thread("c1")).ref == ThreadRef("C2", "2.2")  # type: ignore[union-attr]


async def test_a_new_thread_and_its_first_messages_are_queued_together(
    store: StateStore,
) -> None:
    """Nothing may see the root queued without the first message behind it (the poster's
    sweep would post the root alone: BRIDGES wants the first message on it)."""
    start = (Conversation("c2", Visitor("Bo")), "C1")
    first = Item("c2", 1, ItemKind.MESSAGE, "hi", Author("visitor", "v2", "Bo"))
    accepted = await store.accept("c2", [first], start=start)
    assert (accepted.queued, accepted.cursor) == (1, 1)
    opened, post = await store.head("c2", 2)
    assert (opened.kind, post.kind, post.seq) == (OpKind.OPEN, OpKind.POST, 1)
    again = await store.accept("c2", [first], start=start)  # known now: start is ignored
    assert again.queued == 0 and len(await store.head("c2", 10)) == 2
    with pytest.raises(LookupError):
        await store.accept("c3", [first])
