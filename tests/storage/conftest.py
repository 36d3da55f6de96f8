"""A migrated database on each backend, bound to the storage proxy, one per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee as pw
import pytest

from server.storage.database import db, make_database
from server.storage.migrations import migrate
from tests.support.services import create_mysql_database, drop_mysql_database


@pytest.fixture(scope="module", params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[pw.Database]:
    mysql_name = None
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("storage") / "steady.db"
        url = f"sqlite:///{path}"
    else:
        created = create_mysql_database()
        mysql_name, url = created.name, created.url
    database = make_database(url, max_connections=8)
    db.initialize(database)
    migrate(database)
    try:
        with database.connection_context():
            yield database
    finally:
        database.close_all()
        if mysql_name:
            drop_mysql_database(mysql_name)
