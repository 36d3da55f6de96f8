"""Backing services for the test suites: MySQL/MariaDB databases and Redis.

Every suite that needs a real database or Redis goes through these helpers so that
a missing service is handled the same way everywhere: a visible skip on a developer
machine, a failure in CI (``STEADY_TEST_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, unquote, urlsplit

import pytest

DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
TEST_DATABASE_PREFIX = "steadytest_"
_TEST_DATABASE_RE = re.compile(r"^steadytest_[0-9a-f]{8,32}$")


def services_required() -> bool:
    """CI sets STEADY_TEST_REQUIRE_SERVICES=1: a missing service is then a failure."""
    return os.environ.get("STEADY_TEST_REQUIRE_SERVICES", "") == "1"


def service_unavailable(reason: str) -> NoReturn:
    """Skip the test with a visible reason, or fail it when services are required."""
    if services_required():
        pytest.fail(f"{reason} (STEADY_TEST_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------- MySQL / MariaDB


@dataclass(frozen=True)
class MySQLServer:
    host: str
    port: int
    user: str
    password: str
    query: str

    def database_url(self, database: str) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        url = f"mysql://{auth}@{self.host}:{self.port}/{database}"
        return f"{url}?{self.query}" if self.query else url


@dataclass(frozen=True)
class MySQLDatabase:
    name: str
    url: str  # what STEADY_DATABASE_URL should be set to


def mysql_base_url() -> str:
    return os.environ.get("STEADY_TEST_MYSQL_URL", DEFAULT_MYSQL_URL)


def _mysql_server() -> MySQLServer:
    parts = urlsplit(mysql_base_url())
    if parts.scheme not in ("mysql", "mariadb", "mysql+pymysql"):
        raise ValueError(f"STEADY_TEST_MYSQL_URL must be a mysql:// URL, got {parts.scheme!r}")
    return MySQLServer(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        query=parts.query,
    )


def _mysql_connect() -> Any:
    import pymysql

    server = _mysql_server()
    return pymysql.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        connect_timeout=3,
        autocommit=True,
        charset="utf8mb4",
    )


@lru_cache(maxsize=1)
def mysql_problem() -> str | None:
    """Why MySQL cannot be used for tests, or None when it can (checked once)."""
    try:
        conn = _mysql_connect()
    except Exception as exc:
        return f"MySQL at {mysql_base_url()} is unreachable: {exc}"
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    finally:
        conn.close()
    return None


def mysql_available() -> bool:
    return mysql_problem() is None


def require_mysql() -> None:
    problem = mysql_problem()
    if problem is not None:
        service_unavailable(problem)


def create_mysql_database() -> MySQLDatabase:
    """Create a fresh, empty utf8mb4 database ``steadytest_<hex>``; the caller drops it."""
    require_mysql()
    name = TEST_DATABASE_PREFIX + secrets.token_hex(6)
    conn = _mysql_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        conn.close()
    return MySQLDatabase(name=name, url=_mysql_server().database_url(name))


def drop_mysql_database(name: str) -> None:
    """Drop a database made by create_mysql_database (refuses any other name)."""
    if not _TEST_DATABASE_RE.match(name):
        raise ValueError(f"refusing to drop {name!r}: not a test database")
    conn = _mysql_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


# ---------------------------------------------------------------- Redis


def redis_base_url() -> str:
    return os.environ.get("STEADY_TEST_REDIS_URL", DEFAULT_REDIS_URL)


@lru_cache(maxsize=1)
def redis_problem() -> str | None:
    import redis

    url = redis_base_url()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"Redis at {url} is unreachable: {exc}"
    return None


def redis_available() -> bool:
    return redis_problem() is None


def redis_url_or_skip() -> str:
    """The Redis URL for tests, after checking it answers; skip (or fail in CI) if not."""
    problem = redis_problem()
    if problem is not None:
        service_unavailable(problem)
    return redis_base_url()


@contextlib.contextmanager
def blank_database(backend: str, sqlite_path: Path, max_connections: int = 4) -> Iterator[Any]:
    """An empty database on ``backend`` ("sqlite" at ``sqlite_path``, or a fresh MariaDB
    one), bound to the storage proxy; closed (and the MariaDB one dropped) afterwards."""
    from server.storage.database import db, make_database

    mysql_name = None
    if backend == "sqlite":
        url = f"sqlite:///{sqlite_path}"
    else:
        created = create_mysql_database()
        mysql_name, url = created.name, created.url
    database = make_database(url, max_connections=max_connections)
    db.initialize(database)
    try:
        yield database
    finally:
        database.close_all()
        if mysql_name:
            drop_mysql_database(mysql_name)
