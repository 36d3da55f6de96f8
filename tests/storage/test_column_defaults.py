"""Every NOT NULL column with a constant default carries it in the database, on a table
this release makes fresh as on one a migration extended: an older release's INSERT during
a rollout names only the columns it knows. 55 columns had their default in Python only
(``site.ai_mode`` broke the previous release's protocol suite in test-ops that way)."""

from __future__ import annotations

import peewee as pw

from server.storage.column_defaults import has_plain_default
from server.storage.database import is_mysql
from server.storage.models import ALL_MODELS


def _database_defaults(database: pw.Database, table: str) -> dict[str, object]:
    if is_mysql(database):
        rows = database.execute_sql(
            "SELECT COLUMN_NAME, COLUMN_DEFAULT FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            (table,),
        )
        # MariaDB reports "no default" as NULL, a NULL default as the string 'NULL'.
        return {name: None if default in (None, "NULL") else default for name, default in rows}
    return {row[1]: row[4] for row in database.execute_sql(f'PRAGMA table_info("{table}")')}


def test_every_plain_default_is_the_databases_too(database: pw.Database) -> None:
    missing = []
    checked = 0
    for model in ALL_MODELS:
        defaults = _database_defaults(database, model._meta.table_name)
        for field in model._meta.sorted_fields:
            if field.primary_key or not has_plain_default(field):
                continue
            checked += 1
            if defaults.get(field.column_name) is None:
                missing.append(f"{model._meta.table_name}.{field.column_name}")
    assert checked > 50
    assert not missing, f"NOT NULL with a Python-only default: {missing}"


def test_an_insert_naming_only_what_has_no_default_works(database: pw.Database) -> None:
    """What an older release does: it names the columns it knew, the rest come from the
    database (the tenant row is made the same way, with its id and name only)."""
    param = "%s" if is_mysql(database) else "?"
    database.execute_sql(
        f"INSERT INTO tenant (id, name, created_at) VALUES ({param}, {param}, {param})",
        ("t-defaults", "Defaults", "2026-12-07 00:00:00.000"),
    )
    database.execute_sql(
        f"INSERT INTO site (id, tenant_id, name, secret, created_at) "
        f"VALUES ({param}, {param}, {param}, {param}, {param})",
        ("s-defaults", "t-defaults", "Site", "s3cret", "2026-12-07 00:00:00.000"),
    )
    row = database.execute_sql(
        "SELECT ai_mode, csat_enabled, require_timed_hash, allowed_origins FROM site "
        f"WHERE id = {param}",
        ("s-defaults",),
    ).fetchone()
    assert tuple(row) == ("off", 1, 0, "[]")
