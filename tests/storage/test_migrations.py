"""Migrations are recorded, idempotent, and safe to run concurrently."""

from __future__ import annotations

import threading

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
