"""An archive of an older schema restores into this release: the data steps of the newer
migrations run again over its rows (issue #15: "migrates an older archive up")."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import peewee as pw
import pytest

from backups.backup import BackupOptions, create_backup
from backups.restore import RestoreOptions, restore
from server.config import load_settings
from server.storage.database import db, is_mysql
from server.storage.guard import cross_tenant
from server.storage.migrations import LATEST_VERSION, current_version
from tests.backups.support import query
from tests.context.test_storage import _downgrade_to_v3
from tests.storage.conftest import database  # noqa: F401  (the migrated-database fixture)
from tests.support.services import create_mysql_database, drop_mysql_database

BACKUP_TABLES = ("tenant_token_key", "backup_run", "scheduler_lease", "export_job")


@pytest.fixture
def target(database: pw.Database, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    if not is_mysql(database):
        yield f"sqlite:///{tmp_path / 'target.db'}"
        return
    made = create_mysql_database()
    try:
        yield made.url
    finally:
        drop_mysql_database(made.name)


def _as_release_of_schema_3(database: pw.Database) -> None:  # noqa: F811
    _downgrade_to_v3(database)
    for table in BACKUP_TABLES:
        database.execute_sql(f"DROP TABLE {table}")
    database.execute_sql("DELETE FROM schema_migration WHERE version > 3")
    p = "%s" if is_mysql(database) else "?"
    database.execute_sql(f"INSERT INTO tenant (id, name, created_at) VALUES ({p}, {p}, {p})",
                         ("old", "An old tenant", "2025-01-02 03:04:05"))
    database.execute_sql(
        "INSERT INTO canned_reply (id, tenant_id, agent_id, shortcut, body, created_at) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
        ("cr-old", "old", "agent-old", "thanks", "Thank you!", "2025-01-02 03:04:05"),
    )
    database.execute_sql(
        "INSERT INTO message (tenant_id, conversation_id, seq, id, kind, sender_type, "
        f"sender_id, sender_name, cid, body, created_ms) VALUES ({', '.join([p] * 11)})",
        ("old", "c-old", 1, "m-old", "text", "visitor", "v", "", "cid-old",
         "an archived message about refunds", int(time.time() * 1000)),
    )


def test_an_archive_of_schema_3_is_migrated_up(
    database: pw.Database, target: str, tmp_path: Path  # noqa: F811
) -> None:
    _as_release_of_schema_3(database)
    assert current_version(database) == 3
    settings = load_settings(data_dir=tmp_path / "data")
    with cross_tenant():
        made = create_backup(settings, database, BackupOptions(to=tmp_path / "backups"))
    assert "tenant_token_key" not in made["rows"]
    try:
        report = restore(settings, RestoreOptions(archive=made["archive"], into=target))
    finally:
        db.initialize(database)  # restore binds the proxy to its target
    assert report["ok"] is True
    assert report["schema_version"] == {"archive": 3, "target": LATEST_VERSION}
    versions = query(target, "SELECT MAX(version) FROM schema_migration")
    assert versions == [(LATEST_VERSION,)]
    # Migration 4's data step ran over the restored row: the scope is its agent.
    assert query(target, "SELECT scope_key FROM canned_reply WHERE id = ?", ["cr-old"]) == [
        ("agent-old",)
    ]
    # And the search index covers the old message.
    if target.startswith("sqlite"):
        hits = query(target, "SELECT rowid FROM message_fts WHERE message_fts MATCH 'refunds'")
    else:
        hits = query(target, "SELECT id FROM message WHERE MATCH(body) AGAINST ('+refunds' "
                             "IN BOOLEAN MODE)")
    assert len(hits) == 1
