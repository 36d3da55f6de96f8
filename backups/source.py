"""Reading tables at one point in time through a connection of their own.

* SQLite backups copy the live file with the online backup API (a consistent copy, taken
  in one step while writers carry on) and read the copy.
* SQLite exports and verifications read in one deferred read transaction: WAL gives it a
  snapshot and writers never wait for it.
* MariaDB/MySQL reads run in one ``REPEATABLE READ`` transaction started ``WITH CONSISTENT
  SNAPSHOT``: what ``mysqldump --single-transaction`` does, without a client binary, its
  credentials on a command line, or SQL text we would have to parse again for checksums,
  single-tenant restores and restores onto the other backend. Rows stream from the server
  (an unbuffered cursor), so memory stays flat however big a table is.

These connections are not the pool's: a backup of an hour must not hold a query thread.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import peewee as pw
import pymysql
import pymysql.cursors

from backups.tables import Row, TableSpec, archived_binary, binary_columns, canonical_row
from server.storage.database import is_mysql

FETCH_ROWS = 1000


class RowSource:
    """One raw DB-API connection, reading whole tables (or one tenant's rows of them)."""

    def __init__(self, conn: Any, *, mysql: bool, cleanup: list[Path] | None = None):
        self._conn = conn
        self._mysql = mysql
        self._param = "%s" if mysql else "?"
        self._cleanup = cleanup or []

    def _q(self, name: str) -> str:
        return f"`{name}`" if self._mysql else f'"{name}"'

    def select_sql(
        self, spec: TableSpec, columns: Sequence[str], tenant: str | None
    ) -> tuple[str, list[Any]]:
        q, p = self._q, self._param
        sql = f"SELECT {', '.join(q(c) for c in columns)} FROM {q(spec.name)}"
        params: list[Any] = []
        if tenant is not None:
            if spec.tenant_column is None:
                raise ValueError(f"{spec.name} is not tenant data")
            sql += f" WHERE {q(spec.tenant_column)} = {p}"
            params.append(tenant)
            if spec.name == "message":
                # message has no index on tenant_id: reach it through its conversations.
                sql += f" AND {q('conversation_id')} IN (SELECT {q('id')} FROM "
                sql += f"{q('conversation')} WHERE {q('tenant_id')} = {p})"
                params.append(tenant)
        if spec.name != "message":  # message is clustered on its key already
            sql += " ORDER BY " + ", ".join(q(c) for c in spec.order_by)
        return sql, params

    def rows(
        self, spec: TableSpec, columns: Sequence[str] | None = None, tenant: str | None = None
    ) -> Iterator[Row]:
        wanted = columns or spec.columns
        sql, params = self.select_sql(spec, wanted, tenant)
        binary = binary_columns(spec, wanted)
        cursor = self._conn.cursor()
        try:
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(FETCH_ROWS):
                for raw in batch:
                    if binary:
                        raw = list(raw)
                        for i in binary:
                            raw[i] = archived_binary(raw[i])
                    yield canonical_row(raw)
        finally:
            cursor.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._mysql:
                self._conn.rollback()
            self._conn.close()
        for path in self._cleanup:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def __enter__(self) -> RowSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sqlite_reader(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def _private_file(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def sqlite_copy(database: pw.Database, into: Path) -> Path:
    """A consistent copy of a live SQLite database (the online backup API, one step)."""
    _private_file(into)  # the copy holds everything: 0600 from the start
    source = _sqlite_reader(database.database)
    target = sqlite3.connect(str(into))
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return into


def _mysql_reader(database: pw.Database) -> Any:
    params = dict(database.connect_params)
    params.pop("autocommit", None)
    conn = pymysql.connect(
        database=database.database,
        cursorclass=pymysql.cursors.SSCursor,
        autocommit=False,
        **params,
    )
    with conn.cursor() as cursor:
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
    return conn


def open_snapshot(database: pw.Database, *, copy_into: Path | None = None) -> RowSource:
    """Every table of ``database`` as it is now. ``copy_into`` (SQLite): read a copy made
    with the online backup API at that path (deleted on close) instead of the live file."""
    if is_mysql(database):
        return RowSource(_mysql_reader(database), mysql=True)
    if copy_into is not None:
        sqlite_copy(database, copy_into)
        conn = _sqlite_reader(copy_into)
        return RowSource(conn, mysql=False, cleanup=[copy_into])
    conn = _sqlite_reader(database.database)
    conn.execute("BEGIN")  # deferred: the snapshot starts with the first read, just below
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return RowSource(conn, mysql=False)
