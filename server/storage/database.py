"""The one database proxy (SQLite or MySQL) and the thread pool that keeps queries off the loop."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import peewee as pw
from playhouse.pool import PooledMySQLDatabase, PooledSqliteDatabase
from playhouse.shortcuts import ReconnectMixin

from server.errors import Unavailable
from server.storage.guard import check_query

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

db = pw.DatabaseProxy()

# Errors that mean "the database is not reachable right now", not "your query is wrong".
UNAVAILABLE_ERRORS = (pw.OperationalError, pw.InterfaceError)


class _GuardedMixin:
    def execute(self, query: Any, **context_options: Any) -> Any:
        check_query(query)
        return super().execute(query, **context_options)  # type: ignore[misc]


class GuardedSqliteDatabase(_GuardedMixin, PooledSqliteDatabase):
    pass


class GuardedMySQLDatabase(_GuardedMixin, ReconnectMixin, PooledMySQLDatabase):
    """Pooled, reconnects once after "server has gone away" (never inside a transaction)."""


def make_database(url: str, *, max_connections: int = 16) -> pw.Database:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy spells them.
        path = unquote(parts.path)[1:]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return GuardedSqliteDatabase(
            path,
            max_connections=max_connections,
            stale_timeout=300,
            timeout=10,
            # Pooled connections move between the pool's threads, one user at a time.
            check_same_thread=False,
            # Transactions take the write lock up front: a deferred one that read before
            # another writer committed cannot upgrade to a write and fails at once with
            # "database is locked" (busy_timeout does not apply); an immediate one waits
            # its turn. Writes are serialised on SQLite anyway; WAL readers never wait.
            lock_type="IMMEDIATE",
            pragmas={
                "journal_mode": "wal",
                # FULL: a committed (acked) transaction survives power loss too.
                "synchronous": "full",
                "busy_timeout": 10000,
                "foreign_keys": 1,
            },
        )
    if parts.scheme == "mysql":
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return GuardedMySQLDatabase(
            unquote(parts.path.lstrip("/")),
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            charset="utf8mb4",
            max_connections=max_connections,
            stale_timeout=300,
            timeout=10,
            connect_timeout=float(options.get("connect_timeout", 5)),
            read_timeout=float(options.get("read_timeout", 30)),
            write_timeout=float(options.get("write_timeout", 30)),
        )
    raise ValueError(f"unsupported database url scheme {parts.scheme!r}")


def is_mysql(database: pw.Database | None = None) -> bool:
    target = database if database is not None else db.obj
    return isinstance(target, pw.MySQLDatabase)


class Store:
    """Runs blocking units of work on a bounded thread pool, one pooled connection each."""

    def __init__(self, database: pw.Database, threads: int):
        self.database = database
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="db")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(self._unit, fn, *args, **kwargs)
        return await loop.run_in_executor(self._executor, call)

    def _unit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            with self.database.connection_context():
                return fn(*args, **kwargs)
        except UNAVAILABLE_ERRORS as err:
            log.warning("database unavailable: %s", err)
            raise Unavailable("storage is unavailable, try again") from err

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        close_all = getattr(self.database, "close_all", None)
        if close_all:
            close_all()
