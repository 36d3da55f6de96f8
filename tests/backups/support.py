"""Helpers of the backup suite: the CLI as an operator runs it, and an independent reader
of every table (plain sqlite3 / pymysql, not the code under test) to compare databases."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import pymysql

from server.storage import fulltext
from tests.support.server import REPO_ROOT, ServerProcess

CLI_TIMEOUT_SECS = 180
# Operational tables (never in an archive) and SQLite's full-text index (rebuilt).
NOT_COMPARED = ("schema_migration", "scheduler_lease", "backup_run", "export_job")
# Settings rows that are heartbeats, not data: each node rewrites its key report
# (``node.keys:<node>``, server/storage/node_keys.py) with a new expiry while it runs, so a
# backup taken a moment before the comparison may hold an older one.
HEARTBEAT_SETTINGS = ("node.keys:",)


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def last_error_line(self) -> str:
        lines = [line for line in self.err.splitlines() if line.startswith("steadydesk:")]
        return lines[-1] if lines else ""


def cli(env: Mapping[str, str], *args: str, timeout: float = CLI_TIMEOUT_SECS) -> CliResult:
    """``python -m server ARGS`` with ``env`` (a server's environment, usually)."""
    done = subprocess.run(
        [sys.executable, "-m", "server", *args], cwd=REPO_ROOT, env=dict(env),
        capture_output=True, timeout=timeout, check=False,
    )
    result = CliResult(done.returncode, done.stdout.decode(), done.stderr.decode())
    assert "Traceback" not in result.err, f"a traceback from `{' '.join(args)}`:\n{result.err}"
    return result


def cli_ok(env: Mapping[str, str], *args: str) -> CliResult:
    result = cli(env, *args)
    assert result.code == 0, f"`{' '.join(args)}` exited {result.code}:\n{result.err[-3000:]}"
    return result


def server_cli(srv: ServerProcess, *args: str) -> CliResult:
    return cli_ok(srv.env, *args)


# ------------------------------------------------------------------ reading databases


def _normal(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def connect(url: str) -> Any:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return sqlite3.connect(unquote(parts.path)[1:])
    return pymysql.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
        user=unquote(parts.username or "root"), password=unquote(parts.password or ""),
        database=unquote(parts.path.lstrip("/")), charset="utf8mb4",
    )


def query(url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """``?`` placeholders on both backends."""
    conn = connect(url)
    try:
        if not isinstance(conn, sqlite3.Connection):
            sql = sql.replace("?", "%s")
        cursor = conn.cursor()
        cursor.execute(sql, tuple(params))
        rows = [tuple(_normal(v) for v in row) for row in cursor.fetchall()]
        conn.commit()
        return rows
    finally:
        conn.close()


def data_tables(url: str) -> list[str]:
    if url.startswith("sqlite"):
        names = [r[0] for r in query(url, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    else:
        names = [r[0] for r in query(url, "SHOW TABLES")]
    return sorted(
        n for n in names if n not in NOT_COMPARED and not n.startswith(("message_fts", "sqlite_"))
    )


def dump(url: str, *, tenant: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every data table's rows (one tenant's, when given), sorted: databases that hold the
    same data dump equal, whatever order their rows were written in."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for table in data_tables(url):
        q = "`" if not url.startswith("sqlite") else '"'
        # The search index's generated column (MySQL) is derived, not data.
        derived = fulltext.GENERATED_COLUMNS.get(table, ())
        columns = [c for c in _columns(url, table) if c not in derived]
        listed = ", ".join(f"{q}{c}{q}" for c in columns)
        if tenant is not None:
            column = "id" if table == "tenant" else "tenant_id"
            if column not in columns:
                continue
            rows = query(url, f"SELECT {listed} FROM {q}{table}{q} WHERE {column} = ?", [tenant])
        else:
            rows = query(url, f"SELECT {listed} FROM {q}{table}{q}")
        if table == "setting":
            at_key = columns.index("key")
            rows = [r for r in rows if not str(r[at_key]).startswith(HEARTBEAT_SETTINGS)]
        tables[table] = sorted(rows, key=repr)
    return tables


def _columns(url: str, table: str) -> list[str]:
    if url.startswith("sqlite"):
        return [r[1] for r in query(url, f'PRAGMA table_info("{table}")')]
    return [r[0] for r in query(url, f"SHOW COLUMNS FROM `{table}`")]


def assert_same_tables(
    before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]
) -> None:
    assert sorted(before) == sorted(after), "the restored database has other tables"
    for table in before:
        lost = [r for r in before[table] if r not in set(after[table])]
        extra = [r for r in after[table] if r not in set(before[table])]
        assert before[table] == after[table], (
            f"table {table}: {len(before[table])} rows before, {len(after[table])} after; "
            f"missing {lost[:3]}, unexpected {extra[:3]}"
        )


def wipe(url: str) -> None:
    """The disaster: the database is gone (an empty one is made in its place)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = Path(unquote(parts.path)[1:])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    name = unquote(parts.path.lstrip("/"))
    assert name.startswith("steadytest_"), name
    conn = connect(urlunsplit(parts._replace(path="/mysql")))
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE `{name}`")
            cursor.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        conn.close()
