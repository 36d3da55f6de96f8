"""Migrations keep MySQL/MariaDB tables writable (issue #21, item 8; docs/operations.md,
"Online migrations on MySQL/MariaDB").

* A column a migration adds is one ``ADD COLUMN`` with its default in the database:
  existing rows get it, and an older release's INSERT that leaves it out (a gray
  rollout runs both) still works. Peewee's migrator added it without a default, and
  strict MySQL refused such an INSERT ("Field 'offline' doesn't have a default value").
* A secondary index is built ``ALGORITHM=INPLACE, LOCK=NONE``: INSERTs complete while the
  build runs. A second connection inserts rows one by one; an insert counts only if it
  started clearly after the build started and ended clearly before the build ended. The
  same measure with ``LOCK=SHARED`` sees none, so it does tell a blocking build from an
  online one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee as pw
import pymysql
import pytest

from server.storage import migrations
from server.storage.database import db, make_database
from server.storage.guard import cross_tenant
from server.storage.migrations import (
    Migration,
    add_missing_columns,
    add_missing_indexes,
    current_version,
    migrate,
)
from server.storage.models import Conversation, Department
from tests.support.services import (
    blank_database,
    create_mysql_database,
    drop_mysql_database,
    require_mysql,
)

pytestmark = pytest.mark.mysql

INDEX = "conversation_tenant_id_created_at"
SEED_ROWS = 1000
DOUBLINGS = 7  # 128,000 rows: a build that lasts long enough to be watched


@pytest.fixture
def database(tmp_path: Path) -> Iterator[pw.Database]:
    require_mysql()
    with blank_database("mysql", tmp_path / "unused.db", max_connections=4) as database:
        migrate(database)
        with database.connection_context(), cross_tenant():
            yield database


def _raw(database: pw.Database) -> Any:
    """A connection of its own (autocommit), as another node's would be."""
    params = database.connect_params
    return pymysql.connect(
        host=params["host"], port=params["port"], user=params["user"],
        password=params.get("password", ""), database=database.database, charset="utf8mb4",
        autocommit=True,
    )


OLD_RELEASE_INSERT = (
    "INSERT INTO conversation (id, tenant_id, site_id, visitor_id, status, last_seq, "
    "visitor_read_seq, agent_read_seq, created_at) "
    "VALUES (%s, 't1', 's1', 'v1', 'open', 0, 0, 0, '2026-01-01 00:00:00')"
)

CURRENT_INSERT = (
    "INSERT INTO conversation (id, tenant_id, site_id, visitor_id, status, last_seq, "
    "visitor_read_seq, agent_read_seq, created_at, offer_seq, offers_tried, offline) "
    "VALUES (%s, 't1', 's1', 'v1', 'open', 0, 0, 0, '2026-01-01 00:00:00', 0, '', 0)"
)


def test_added_columns_carry_their_default_for_old_rows_and_old_inserts(
    database: pw.Database,
) -> None:
    conn = _raw(database)
    try:
        with conn.cursor() as cursor:
            cursor.execute("ALTER TABLE conversation DROP COLUMN offline, DROP COLUMN offer_seq, "
                           "DROP COLUMN offers_tried")
            cursor.execute("ALTER TABLE department DROP COLUMN offer_timeout_secs")
            cursor.execute(OLD_RELEASE_INSERT, ("before",))
            cursor.execute("INSERT INTO department (id, tenant_id, name, policy, created_at) "
                           "VALUES ('d1', 't1', 'Sales', 'manual', '2026-01-01 00:00:00')")
        add_missing_columns(database, Conversation, Conversation.offer_seq,
                            Conversation.offers_tried, Conversation.offline)
        add_missing_columns(database, Department, Department.offer_timeout_secs)
        with conn.cursor() as cursor:
            cursor.execute(OLD_RELEASE_INSERT, ("after",))  # the previous release's INSERT
            cursor.execute("SELECT id, offer_seq, offers_tried, offline FROM conversation "
                           "ORDER BY id")
            assert cursor.fetchall() == (("after", 0, "", 0), ("before", 0, "", 0))
            cursor.execute("SELECT offer_timeout_secs FROM department")
            assert cursor.fetchall() == ((30,),)
    finally:
        conn.close()


def _fill(conn: Any) -> None:
    with conn.cursor() as cursor:
        values = ", ".join(
            f"('c{n:09d}', 't1', 's1', 'v1', 'closed', 0, 0, 0, "
            f"'2026-01-01 00:00:00' + INTERVAL {n} SECOND, 0, '', 0)" for n in range(SEED_ROWS)
        )
        cursor.execute(
            "INSERT INTO conversation (id, tenant_id, site_id, visitor_id, status, last_seq, "
            "visitor_read_seq, agent_read_seq, created_at, offer_seq, offers_tried, offline) "
            f"VALUES {values}"
        )
        for round_ in range(DOUBLINGS):  # a new leading letter per round keeps ids unique
            cursor.execute(
                "INSERT INTO conversation (id, tenant_id, site_id, visitor_id, status, "
                "last_seq, visitor_read_seq, agent_read_seq, created_at, offer_seq, "
                f"offers_tried, offline) SELECT CONCAT('{chr(97 + round_)}', id), "
                f"CONCAT('t', {round_} + 2), site_id, visitor_id, status, last_seq, "
                "visitor_read_seq, agent_read_seq, created_at, offer_seq, offers_tried, offline "
                "FROM conversation"
            )
        cursor.execute("ALTER TABLE conversation DROP INDEX " + INDEX)


def _inserts_during(database: pw.Database, build: Any, tag: str) -> tuple[int, int, float]:
    """Run ``build`` in a thread while inserting; (inserts done wholly inside the build,
    inserts in all, seconds the build took). An insert counts when it started clearly
    after the build did (the build has taken its locks) and ended clearly before it
    ended: an insert a blocking build holds back ends with the build, not before it."""
    conn = _raw(database)
    errors: list[BaseException] = []
    window: list[float] = []

    def run_build() -> None:
        try:
            with database.connection_context():
                started = time.monotonic()
                build()
                window.extend((started, time.monotonic()))
        except BaseException as err:
            errors.append(err)

    thread = threading.Thread(target=run_build, daemon=True)
    inserts: list[tuple[float, float]] = []
    try:
        with conn.cursor() as cursor:
            thread.start()
            deadline = time.monotonic() + 120
            while thread.is_alive() and time.monotonic() < deadline:
                began = time.monotonic()
                cursor.execute(CURRENT_INSERT, (f"{tag}{len(inserts):08d}",))
                inserts.append((began, time.monotonic()))
            thread.join(30)
    finally:
        conn.close()
    assert not errors, errors
    assert window, "the index build did not finish"
    started, ended = window
    margin = max(0.05, 0.1 * (ended - started))
    during = sum(1 for b, e in inserts if b > started + margin and e < ended - margin)
    return during, len(inserts), ended - started


def test_an_index_build_lets_inserts_through(database: pw.Database) -> None:
    conn = _raw(database)
    try:
        _fill(conn)
    finally:
        conn.close()

    during, total, took = _inserts_during(database, lambda: add_missing_indexes(
        database, Conversation), "online")
    assert INDEX in {index.name for index in database.get_indexes("conversation")}
    assert during >= 3, (
        f"only {during} of {total} inserts completed while the {took:.2f} s build ran"
    )

    # The control: the same build holding a shared lock lets no insert through, so the
    # measure above tells an online build from a blocking one.
    database.execute_sql(f"ALTER TABLE conversation DROP INDEX {INDEX}")
    during, total, took = _inserts_during(database, lambda: database.execute_sql(
        f"CREATE INDEX {INDEX} ON conversation (tenant_id, created_at) "
        "ALGORITHM=INPLACE LOCK=SHARED"), "shared")
    assert during == 0, f"{during} of {total} inserts went through a LOCK=SHARED build"
    assert total >= 1



def test_a_migration_may_take_longer_than_the_read_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The node's MySQL reads time out after 30 s, a FULLTEXT build on a large table takes
    minutes: migrations wait for their DDL however long it takes (a 2 s step stands in for
    it here, under a 1 s read timeout), and queries get their own timeout back after."""
    require_mysql()
    created = create_mysql_database()
    database = make_database(created.url + "?read_timeout=1", max_connections=2)
    previous = db.obj
    db.initialize(database)
    try:
        migrate(database)
        slow = Migration(migrations.LATEST_VERSION + 1, "slow DDL",
                         lambda d: d.execute_sql("SELECT SLEEP(2)"))
        monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, slow])
        assert migrate(database) == [slow]
        with database.connection_context():
            assert current_version(database) == slow.version
            assert database.connection()._read_timeout == 1  # queries: their own timeout
    finally:
        database.close_all()
        db.initialize(previous)
        drop_mysql_database(created.name)
