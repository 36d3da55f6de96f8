"""Fixtures of the secure suite (CSAT, reports, masking, encryption at rest)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import peewee as pw
import pytest

from server.storage.database import db, make_database
from server.storage.guard import cross_tenant
from server.storage.sealed import install_keyring
from tests.support.server import DemoTenant, ServerProcess


@pytest.fixture(scope="module")
def demo(server: ServerProcess) -> DemoTenant:
    assert server.demo is not None
    return server.demo


@pytest.fixture(scope="module")
def other_tenant(server: ServerProcess) -> DemoTenant:
    return server.run_demo("other")


@contextlib.contextmanager
def direct_db(srv: ServerProcess) -> Iterator[pw.Database]:
    """The server's own database, opened from the test process (no keyring: raw values
    of sealed columns come back as stored), across tenants."""
    database = make_database(srv.database_url, max_connections=2)
    db.initialize(database)
    install_keyring(None)
    try:
        with database.connection_context(), cross_tenant():
            yield database
    finally:
        database.close_all()


def raw_rows(srv: ServerProcess, sql: str, params: tuple[object, ...] = ()) -> list[tuple]:
    """Run ``sql`` on the server's database; ``?`` placeholders work on both backends."""
    with direct_db(srv) as database:
        if isinstance(database, pw.MySQLDatabase):
            sql = sql.replace("?", "%s")
        return list(database.execute_sql(sql, params).fetchall())


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
