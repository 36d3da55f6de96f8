"""The writer's commit policy and hand-offs (server/chat/writer.py), against a real
database, both backends: a lane commits at most once per ``commit_interval``, a lone send
after a quiet spell is not held, a batch costs one hand-off each way between the loop and
the lane's thread, and on MariaDB two round trips."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import peewee as pw
import pytest
import pytest_asyncio

from server.chat.writer import BATCH_BODY_CHARS, ROW_PARAMETERS, SQLITE_MAX_PARAMETERS
from server.storage.database import is_mysql
from tests.unit.chat.test_writer import ALPHA, Writer, new_conversation, stored, tenants

__all__ = ["tenants"]  # the module's fixture, used here by name

INTERVAL = 0.4  # long next to a commit (milliseconds), even on a busy test machine


@pytest_asyncio.fixture
async def paced(database: pw.Database, tenants: None) -> AsyncIterator[Writer]:
    made = Writer(database, batch_max=64, commit_interval=INTERVAL)
    made.writer.start()
    try:
        yield made
    finally:
        await made.writer.drain_and_stop(5)


async def test_a_lone_send_after_a_quiet_spell_commits_at_once(paced: Writer) -> None:
    conv = new_conversation(ALPHA)
    began = time.perf_counter()
    result = await paced.submit(ALPHA, conv, "alone")
    assert time.perf_counter() - began < INTERVAL / 2  # not held for the interval
    assert result.message.seq == 1 and paced.batches == [1]


async def test_a_send_soon_after_a_commit_waits_at_most_the_interval(paced: Writer) -> None:
    conv = new_conversation(ALPHA)
    first = time.perf_counter()
    await paced.submit(ALPHA, conv, "first")
    result = await paced.submit(ALPHA, conv, "second")
    waited = time.perf_counter() - first
    # The second commit starts an interval after the first one did, not before...
    assert waited >= INTERVAL * 0.9
    # ...and not much later: the policy's bound plus one commit.
    assert waited < INTERVAL * 2
    assert result.message.seq == 2 and paced.batches == [1, 1]


async def test_sends_arriving_within_the_interval_share_one_commit(paced: Writer) -> None:
    conv = new_conversation(ALPHA)
    futures = [paced.submit(ALPHA, conv, "m0")]
    for n in range(1, 8):  # one every 20 ms: each would have had its own commit
        await asyncio.sleep(INTERVAL / 20)
        futures.append(paced.submit(ALPHA, conv, f"m{n}"))
    results = await asyncio.gather(*futures)
    assert [r.message.seq for r in results] == list(range(1, 9))
    assert paced.batches[0] == 1  # the first found the lane quiet
    assert len(paced.batches) == 2, paced.batches  # the other seven waited for one commit
    assert [row[2] for row in stored(conv)] == [f"m{n}" for n in range(8)]


async def test_a_stop_while_a_batch_lingers_commits_it(
    database: pw.Database, tenants: None
) -> None:
    made = Writer(database, batch_max=64, commit_interval=INTERVAL)
    made.writer.start()
    conv = new_conversation(ALPHA)
    await made.submit(ALPHA, conv, "first")
    lingering = [made.submit(ALPHA, conv, f"late{n}") for n in range(3)]
    await made.writer.drain_and_stop(5)  # the interval is shorter than the grace
    assert [(await f).message.seq for f in lingering] == [2, 3, 4]
    assert made.batches == [1, 3]


async def test_a_batch_is_one_hand_off_to_the_thread_and_one_back(
    database: pw.Database, tenants: None
) -> None:
    made = Writer(database, batch_max=64)
    loop = asyncio.get_running_loop()
    to_thread: list[int] = []
    back: list[Any] = []
    lane = made.writer._lanes[0]
    submit, call_soon_threadsafe = lane.submit, loop.call_soon_threadsafe

    def counted_submit(fn: Any, *args: Any) -> Any:
        to_thread.append(len(args[1]))  # (loop, batch, started, committed)
        return submit(fn, *args)

    def counted_call(callback: Any, *args: Any) -> Any:
        back.append(callback)
        return call_soon_threadsafe(callback, *args)

    lane.submit = counted_submit  # type: ignore[method-assign]
    loop.call_soon_threadsafe = counted_call  # type: ignore[method-assign]
    made.writer.start()
    try:
        conv = new_conversation(ALPHA)
        await made.submit(ALPHA, conv, "warm")  # the lane's thread connects here
        to_thread.clear()
        back.clear()
        results = await asyncio.gather(*(made.submit(ALPHA, conv, f"b{n}") for n in range(20)))
    finally:
        loop.call_soon_threadsafe = call_soon_threadsafe  # type: ignore[method-assign]
        lane.submit = submit  # type: ignore[method-assign]
        await made.writer.drain_and_stop(5)
    assert [r.message.seq for r in results] == list(range(2, 22))
    assert to_thread == [20]  # the batch, not each send
    assert len(back) == 1  # one callback settles the whole batch


async def test_a_batch_takes_two_round_trips_on_mariadb(
    database: pw.Database, tenants: None
) -> None:
    if not is_mysql(database):
        pytest.skip("SQLite runs in this process: no round trips")
    made = Writer(database, batch_max=64)
    made.writer.start()
    queries: list[str] = []
    own = made.writer._database  # the writer's own connections
    execute_sql = own.execute_sql

    def counted(sql: str, params: Any = None) -> Any:
        queries.append(sql.split()[0])
        return execute_sql(sql, params)

    try:
        conv, other = new_conversation(ALPHA), new_conversation(ALPHA)
        await made.submit(ALPHA, conv, "warm")  # connects (and sets the isolation level)
        own.execute_sql = counted  # type: ignore[method-assign]
        await asyncio.gather(*(made.submit(ALPHA, (conv, other)[n % 2], f"r{n}") for n in range(6)))
    finally:
        await made.writer.drain_and_stop(5)
    assert made.batches == [1, 6]
    assert queries == ["START", "INSERT"]  # START TRANSACTION; SELECT … / INSERT; UPDATE; COMMIT
    assert [row[1] for row in stored(other)] == [1, 2, 3]


async def test_a_batch_of_long_bodies_stays_under_the_database_packet_limit(
    database: pw.Database, tenants: None
) -> None:
    """400 bodies of 48,000 bytes (the largest a send may store) are 19 MB: as one batch,
    one query over MariaDB's max_allowed_packet (16 MiB), and every send failed."""
    made = Writer(database, batch_max=1000)
    made.writer.start()
    try:
        conv = new_conversation(ALPHA)
        body = "x" * 48_000
        futures = [made.submit(ALPHA, conv, f"long{n}", body) for n in range(400)]
        results = await asyncio.gather(*futures)
    finally:
        await made.writer.drain_and_stop(5)
    assert [r.message.seq for r in results] == list(range(1, 401))
    assert sum(made.batches) == 400
    assert max(made.batches) * len(body) <= BATCH_BODY_CHARS + len(body)
    assert len(stored(conv)) == 400


async def test_a_batch_larger_than_sqlite_takes_in_one_statement_is_split(
    database: pw.Database, tenants: None
) -> None:
    """3,000 rows of 11 parameters are more than SQLite's 32,766 in one statement: with
    ``commit_batch_max`` raised that far, every send of such a batch failed there."""
    made = Writer(database, batch_max=5000)
    made.writer.start()
    try:
        conv = new_conversation(ALPHA)
        futures = [made.submit(ALPHA, conv, f"short{n}") for n in range(3000)]
        results = await asyncio.gather(*futures)
    finally:
        await made.writer.drain_and_stop(5)
    assert [r.message.seq for r in results] == list(range(1, 3001))
    if not is_mysql(database):
        assert max(made.batches) <= SQLITE_MAX_PARAMETERS // ROW_PARAMETERS
    assert len(stored(conv)) == 3000
