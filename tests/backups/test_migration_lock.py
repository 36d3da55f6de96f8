"""Two installs on one MariaDB server migrate independently: the migration lock is named
after the database. It was one name for the whole server, so a migration of one database
(another install, another test's) held up every other's, and a wait longer than the
connection's 30 s read timeout ended in a traceback; restores and imports migrate their
target first, and met it on the shared test server."""

from __future__ import annotations

import threading
import time

import pytest

from server.storage.database import db, make_database
from server.storage.migrations import _migration_lock, migrate
from tests.support.services import create_mysql_database, drop_mysql_database

HELD_SECS = 30.0  # generous: a blank migration alone took 4.2 s on a loaded 2-core machine


@pytest.mark.serial
@pytest.mark.mysql
def test_a_migration_of_one_database_does_not_wait_for_another() -> None:
    first, second = create_mysql_database(), create_mysql_database()
    holding = make_database(first.url, max_connections=2)
    other = make_database(second.url, max_connections=2)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:  # the first install, in the middle of a long migration
        with holding.connection_context(), _migration_lock(holding):
            locked.set()
            release.wait(HELD_SECS)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        db.initialize(other)
        with other.connection_context():
            migrate(other)
        assert time.monotonic() - started < HELD_SECS / 2, "it waited for the other database"
    finally:
        release.set()
        holder.join(HELD_SECS + 5)
        holding.close_all()
        other.close_all()
        drop_mysql_database(first.name)
        drop_mysql_database(second.name)
