"""Migrations are recorded, idempotent, and safe to run concurrently."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import peewee as pw

from server.storage.migrations import LATEST_VERSION, current_version, migrate
from server.storage.models import ALL_MODELS


def test_schema_is_current_and_every_table_exists(database: pw.Database) -> None:
    assert current_version(database) == LATEST_VERSION
    tables = set(database.get_tables())
    assert {m._meta.table_name for m in ALL_MODELS} <= tables


def test_running_migrate_again_applies_nothing(database: pw.Database) -> None:
    assert migrate(database) == []


def test_two_concurrent_migrations_do_not_collide(database: pw.Database) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(database)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert current_version(database) == LATEST_VERSION


def test_a_release_starts_on_a_schema_the_next_release_already_expanded(tmp_path: Path) -> None:
    """Gray rollout: the new release migrates first (expand only), and the old one keeps
    serving on that schema, and must start again on it (a restart, a rollback)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    env["STEADY_DATA_DIR"] = str(tmp_path)

    def migrate_cli() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "server", "migrate"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    assert migrate_cli().returncode == 0
    with sqlite3.connect(tmp_path / "steadydesk.db") as conn:
        conn.execute(
            "INSERT INTO schema_migration (version, name, applied_at) VALUES (?, ?, ?)",
            (LATEST_VERSION + 1, "added by the next release", "2030-01-01 00:00:00"),
        )
    again = migrate_cli()
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
