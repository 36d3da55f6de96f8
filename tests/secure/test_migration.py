"""Migration 5 upgrades a database made before it, and is a no-op on a fresh one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee as pw
import pytest

from server.storage.guard import cross_tenant
from server.storage.migrations import migrate
from server.storage.models import SchemaMigration
from tests.support.services import blank_database


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[pw.Database]:
    with (
        blank_database(request.param, tmp_path / "steady.db") as database,
        database.connection_context(),
        cross_tenant(),
    ):
        yield database


def columns(database: pw.Database, table: str) -> set[str]:
    return {c.name for c in database.get_columns(table)}


def test_version_5_upgrades_an_older_schema(database: pw.Database) -> None:
    migrate(database)
    assert migrate(database) == []  # fresh: every table made by migration 1, 5 a no-op
    # Back to the schema of a release before migration 5.
    mysql = isinstance(database, pw.MySQLDatabase)
    for table, column in (("conversation", "rating"), ("conversation", "rating_comment"),
                          ("conversation", "rated_at"), ("site", "csat_enabled")):
        database.execute_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
    database.execute_sql("DROP TABLE encryption_key_use")
    database.execute_sql("DROP INDEX conversation_tenant_id_created_at"
                         + (" ON conversation" if mysql else ""))
    if mysql:
        database.execute_sql("ALTER TABLE visitor MODIFY name VARCHAR(200) NOT NULL")
        database.execute_sql("ALTER TABLE visitor MODIFY email VARCHAR(254) NOT NULL")
    # A row as that release wrote it: naming none of the later migrations' columns (the
    # table was made fresh by this release, so they must have database defaults).
    database.execute_sql("INSERT INTO site (id, tenant_id, name, secret, allowed_origins, "
                         "require_timed_hash, created_at) VALUES ('s1', 't', 'n', 's', '[]', "
                         "0, '2026-01-01 00:00:00')")
    SchemaMigration.delete().where(SchemaMigration.version == 5).execute()

    applied = migrate(database)
    assert [m.version for m in applied] == [5]
    assert {"rating", "rating_comment", "rated_at"} <= columns(database, "conversation")
    assert "csat_enabled" in columns(database, "site")
    assert "encryption_key_use" in database.get_tables()
    indexes = {i.name for i in database.get_indexes("conversation")}
    assert "conversation_tenant_id_created_at" in indexes
    (enabled,), = database.execute_sql("SELECT csat_enabled FROM site").fetchall()
    assert enabled  # existing sites offer CSAT, as new ones do
    if mysql:
        sizes = dict(database.execute_sql(
            "SELECT COLUMN_NAME, CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'visitor'").fetchall())
        assert sizes["name"] == 1500 and sizes["email"] == 1500
    assert migrate(database) == []
