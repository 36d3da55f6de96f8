"""Migration 2 (platform operators) upgrades a version-1 database and is a no-op on a
fresh one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee as pw
import pytest

from server.storage.guard import cross_tenant
from server.storage.migrations import LATEST_VERSION, MIGRATIONS, current_version, migrate
from server.storage.models import ALL_MODELS, Operator, SchemaMigration
from tests.support.services import blank_database


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[pw.Database]:
    with blank_database(request.param, tmp_path / "old.db") as database:
        yield database


def test_a_version_1_database_gains_the_operator_table(empty_database: pw.Database) -> None:
    with empty_database.connection_context(), cross_tenant():
        empty_database.create_tables([m for m in ALL_MODELS if m is not Operator])
        SchemaMigration.create(version=1, name="initial schema")
    assert "operator" not in empty_database.get_tables()
    applied = migrate(empty_database)
    assert [m.version for m in applied] == [m.version for m in MIGRATIONS if m.version > 1]
    with empty_database.connection_context():
        assert "operator" in empty_database.get_tables()
        assert current_version(empty_database) == LATEST_VERSION
        assert migrate(empty_database) == []


def test_a_fresh_database_runs_every_step_without_error(empty_database: pw.Database) -> None:
    applied = migrate(empty_database)
    assert applied[0].version == 1 and applied[-1].version == LATEST_VERSION
    with empty_database.connection_context():
        assert "operator" in empty_database.get_tables()
