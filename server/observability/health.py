"""Health: real checks of the database and Redis, and the start-up self-check."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import peewee as pw
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server import __version__
from server.config import Settings
from server.errors import StartupError
from server.security.tls import check_tls_pair
from server.storage.data_dir import restrict_new_files, secure_data_dir
from server.storage.database import UNAVAILABLE_ERRORS, Store, is_mysql
from server.storage.keys import check_key_registry
from server.storage.migrations import LATEST_VERSION, current_version

CHECK_TIMEOUT_SECS = 3.0


def _ping_database() -> None:
    from server.storage.database import db

    db.execute_sql("SELECT 1").fetchone()


async def database_ok(store: Store) -> bool:
    try:
        await asyncio.wait_for(store.run(_ping_database), CHECK_TIMEOUT_SECS)
        return True
    except Exception:
        return False


async def redis_ok(url: str) -> bool:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(await asyncio.wait_for(client.ping(), CHECK_TIMEOUT_SECS))
    except (RedisError, OSError, TimeoutError):
        return False
    finally:
        await client.aclose()


async def health_report(
    settings: Settings, store: Store, websocket_ok: bool
) -> tuple[bool, dict[str, Any]]:
    database = await database_ok(store)
    redis = await redis_ok(settings.redis_url) if settings.redis_url else None
    report = {
        "database": "OK" if database else "DOWN",
        "redis": "n/a" if redis is None else ("OK" if redis else "DOWN"),
        "websocket": "OK" if websocket_ok else "DOWN",
        "version": __version__,
    }
    healthy = database and redis is not False and websocket_ok
    return healthy, report


def describe_database_error(settings: Settings, err: BaseException) -> str:
    url = settings.effective_database_url
    shown = url.split("@")[-1] if "@" in url else url
    text = str(err.args[1]) if len(err.args) > 1 else str(err)
    code = err.args[0] if err.args and isinstance(err.args[0], int) else None
    if code == 1049:
        name = url.rsplit("/", 1)[-1].split("?")[0]
        return (
            f"database {name!r} does not exist on {shown.rsplit('/', 1)[0]}: create it with "
            f"CREATE DATABASE {name} CHARACTER SET utf8mb4"
        )
    if code in (1045, 1044):
        return f"database {shown} refused the login: {text}"
    if code in (2002, 2003, 2006, 2013):
        return f"database {shown} is not reachable: {text}"
    return f"database {shown} is not usable: {text}"


def check_data_dir(settings: Settings) -> None:
    """The data dir exists, is private to its owner (0700, files 0600) and is writable."""
    data_dir = Path(settings.data_dir)
    restrict_new_files()
    try:
        secure_data_dir(data_dir)
        probe = data_dir / ".write-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise StartupError(f"data dir {data_dir} is not writable: {err.strerror}") from None


def check_tls(settings: Settings) -> None:
    """The TLS pair a node serves with is usable (one line, exit 3, when it is not)."""
    check_tls_pair(settings.tls_cert, settings.tls_key)


def startup_check(settings: Settings, database: pw.Database, *, migrate: bool) -> None:
    """Refuse to start with a clear message instead of failing at the first request."""
    try:
        with database.connection_context():
            database.execute_sql("SELECT 1")
            if is_mysql(database):
                charset = database.execute_sql("SELECT @@character_set_database").fetchone()[0]
                if charset != "utf8mb4":
                    raise StartupError(
                        f"database character set is {charset}, Steadydesk needs utf8mb4 "
                        "(ALTER DATABASE ... CHARACTER SET utf8mb4)"
                    )
    except UNAVAILABLE_ERRORS as err:
        raise StartupError(describe_database_error(settings, err)) from None
    if migrate:
        from server.storage.migrations import MigrationLockBusy
        from server.storage.migrations import migrate as apply_migrations

        try:
            apply_migrations(database, settings.migration_wait_secs)
        except UNAVAILABLE_ERRORS as err:
            raise StartupError(describe_database_error(settings, err)) from None
        except MigrationLockBusy as err:
            raise StartupError(str(err)) from None
    with database.connection_context():
        version = current_version(database)
    # A newer schema is fine: migrations only expand (docs/operations.md), so the previous
    # release keeps running beside the next one during a gray rollout, and after a rollback.
    if version < LATEST_VERSION:
        raise StartupError(
            f"database schema is at version {version}, this release needs {LATEST_VERSION}: "
            "run `steadydesk migrate`"
        )
    check_key_registry(database)
    if settings.redis_url and not asyncio.run(redis_ok(settings.redis_url)):
        raise StartupError(f"redis at {_redis_host(settings.redis_url)} is not reachable")


def _redis_host(url: str) -> str:
    return url.split("@")[-1]
