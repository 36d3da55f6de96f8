"""Migration 3 upgrades a database made by the previous release and is a no-op on a new one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee as pw
import pytest
from playhouse.migrate import MySQLMigrator, SqliteMigrator
from playhouse.migrate import migrate as run_steps

from server.storage.database import db, is_mysql, make_database
from server.storage.guard import cross_tenant
from server.storage.migrations import current_version, migrate
from server.storage.models import ALL_MODELS, SchemaMigration
from tests.support.services import blank_database

ADDED = {
    "site": {"hours", "welcome_message", "after_hours_message", "prechat"},
    "department": {"policy", "offer_timeout_secs"},
    "agent": {"last_offered_ms"},
    "visitor": {"department_id"},
    "conversation": {
        "offered_to",
        "offered_at",
        "offer_deadline_ms",
        "offer_seq",
        "offers_tried",
        "offline",
    },
}


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[pw.Database]:
    """A database as release 1 left it: version 1, none of the routing columns."""
    with blank_database(request.param, tmp_path / "old.db") as database:
        with database.connection_context(), cross_tenant():
            database.create_tables(ALL_MODELS)
            SchemaMigration.create(version=1, name="initial schema")
            migrator = MySQLMigrator(database) if is_mysql(database) else SqliteMigrator(database)
            # The index goes first, or the column cannot be dropped.
            for index in database.get_indexes("conversation"):
                if index.columns == ["offer_deadline_ms"]:
                    on = " ON `conversation`" if is_mysql(database) else ""
                    database.execute_sql(f"DROP INDEX {index.name}{on}")
            for table, columns in ADDED.items():
                run_steps(*[migrator.drop_column(table, c) for c in sorted(columns)])
        yield database


def _columns(database: pw.Database, table: str) -> set[str]:
    return {c.name for c in database.get_columns(table)}


def test_migration_3_adds_the_routing_columns(old_database: pw.Database) -> None:
    with old_database.connection_context():
        for table, columns in ADDED.items():
            assert not columns & _columns(old_database, table)
    applied = migrate(old_database)
    assert 3 in [m.version for m in applied]
    with old_database.connection_context():
        for table, columns in ADDED.items():
            assert columns <= _columns(old_database, table), table
        assert current_version(old_database) >= 3
        indexed = {tuple(i.columns) for i in old_database.get_indexes("conversation")}
        assert ("offer_deadline_ms",) in indexed
    assert migrate(old_database) == []


def test_migration_3_is_a_no_op_on_a_fresh_database(tmp_path: Path) -> None:
    database = make_database(f"sqlite:///{tmp_path / 'new.db'}", max_connections=4)
    db.initialize(database)
    try:
        applied = migrate(database)
        assert [m.version for m in applied][:1] == [1] and 3 in [m.version for m in applied]
        with database.connection_context():
            for table, columns in ADDED.items():
                assert columns <= _columns(database, table)
    finally:
        database.close_all()
