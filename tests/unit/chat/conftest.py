"""A migrated database on each backend, bound to the storage proxy, one per test module
(the same as tests/storage's), for the chat domain's unit tests that need storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee as pw
import pytest

from server.storage.migrations import migrate
from tests.support.services import blank_database


@pytest.fixture(scope="module", params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[pw.Database]:
    path: Path = tmp_path_factory.mktemp("chat-unit") / "steady.db"
    with blank_database(request.param, path, max_connections=8) as database:
        migrate(database)
        with database.connection_context():
            yield database
