"""Times keep their milliseconds in storage (issue #21, item 2): ``DATETIME(3)`` on
MySQL/MariaDB (migration 9), peewee's text with its fraction on SQLite."""

from __future__ import annotations

import datetime as dt

import peewee as pw

from server.ids import new_id
from server.storage.database import is_mysql
from server.storage.guard import TenantScope
from server.storage.migrations import LATEST_VERSION, current_version, migrate
from server.storage.models import Conversation, SchemaMigration
from server.times import iso_time, utcnow


def _datetime_precisions(database: pw.Database) -> dict[tuple[str, str], int]:
    cursor = database.execute_sql(
        "SELECT TABLE_NAME, COLUMN_NAME, COALESCE(DATETIME_PRECISION, 0) FROM "
        "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND DATA_TYPE = 'datetime'"
    )
    return {(table, column): int(p) for table, column, p in cursor.fetchall()}


def _conversation(scope: TenantScope, created_at: dt.datetime | None = None) -> str:
    conv = new_id()
    at = {} if created_at is None else {"created_at": created_at}
    scope.create(Conversation, id=conv, site_id="s", visitor_id=new_id(), status="queued", **at)
    return conv


def test_a_conversation_keeps_the_milliseconds_of_created_at(database: pw.Database) -> None:
    scope = TenantScope("times")
    early = dt.datetime(2026, 12, 6, 22, 5, 14, 123000)
    later = early + dt.timedelta(milliseconds=1)
    on_the_second = dt.datetime(2026, 12, 6, 22, 5, 15)
    ids = [_conversation(scope, at) for at in (later, on_the_second, early)]
    read = {row.id: row.created_at for row in scope.select(Conversation).where(
        Conversation.id.in_(ids))}  # fmt: skip
    assert read[ids[2]] == early and read[ids[0]] == later and read[ids[1]] == on_the_second
    # The database sorts them as time, a whole second included, on either backend.
    ordered = [row.id for row in scope.select(Conversation, Conversation.id).where(
        Conversation.id.in_(ids)).order_by(Conversation.created_at)]  # fmt: skip
    assert ordered == [ids[2], ids[0], ids[1]]
    assert [iso_time(read[i]) for i in ordered] == [
        "2026-12-06T22:05:14.123Z", "2026-12-06T22:05:14.124Z", "2026-12-06T22:05:15.000Z",
    ]  # fmt: skip


def test_the_default_time_is_cut_to_the_millisecond(database: pw.Database) -> None:
    assert utcnow().microsecond % 1000 == 0
    scope = TenantScope("times")
    before = utcnow()
    conv = _conversation(scope)  # the column's default
    stored = scope.get_or_none(Conversation, Conversation.id == conv).created_at
    assert stored.microsecond % 1000 == 0 and before <= stored <= utcnow()


def test_migration_9_widens_every_datetime_column_on_mysql(database: pw.Database) -> None:
    """An install that ran migration 8 (whole-second DATETIME) gains the milliseconds, and
    keeps its rows; a fresh one has ``DATETIME(3)`` from the start."""
    if not is_mysql(database):
        assert current_version(database) == LATEST_VERSION
        return
    precisions = _datetime_precisions(database)
    assert precisions and set(precisions.values()) == {3}, precisions
    scope = TenantScope("times")
    old = _conversation(scope, dt.datetime(2026, 1, 2, 3, 4, 5))
    database.execute_sql(
        "ALTER TABLE `conversation` MODIFY `created_at` DATETIME NOT NULL, "
        "MODIFY `closed_at` DATETIME NULL"
    )
    database.execute_sql("ALTER TABLE `visitor` MODIFY `last_seen_at` DATETIME NOT NULL")
    SchemaMigration.delete().where(SchemaMigration.version == 9).execute()
    assert [m.version for m in migrate(database)] == [9]
    after = _datetime_precisions(database)
    assert after == precisions
    nullable = database.execute_sql(
        "SELECT IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = 'conversation' AND COLUMN_NAME = 'closed_at'"
    ).fetchone()[0]
    assert nullable == "YES"
    assert scope.get_or_none(Conversation, Conversation.id == old).created_at == dt.datetime(
        2026, 1, 2, 3, 4, 5
    )
    fresh = _conversation(scope, dt.datetime(2026, 1, 2, 3, 4, 5, 678000))
    row = scope.get_or_none(Conversation, Conversation.id == fresh)
    assert row.created_at.microsecond == 678000
