"""What a local user can read (issue #11, finding 4), on both backends.

The data dir is 0700 and its files 0600 from the start (SQLite's ``-wal``/``-shm``
included); an older, world-readable one is tightened at start with one log line; the
database holds no password in plain text, and with encryption on no API or site secret
either; ``steadydesk demo --json`` still prints working logins on every run.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pymysql

from tests.support.server import DemoTenant, ServerProcess

KEYS = {"STEADY_ENCRYPTION_KEYS": '{"k1": "' + base64.b64encode(b"k" * 32).decode() + '"}'}


def _modes(data_dir: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(data_dir.stat().st_mode)}
    for path in data_dir.rglob("*"):
        found[str(path.relative_to(data_dir))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def _stored_text(server: ServerProcess) -> str:
    """Every value of every table, as the database itself holds it."""
    parts = urlsplit(server.database_url)
    rows: list[Any] = []
    if parts.scheme == "sqlite":
        with sqlite3.connect(unquote(parts.path)[1:]) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                rows += conn.execute(f'SELECT * FROM "{table}"').fetchall()
    else:
        conn = pymysql.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=parts.path.lstrip("/"),
            charset="utf8mb4",
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute("SHOW TABLES")
                for (table,) in cursor.fetchall():
                    cursor.execute(f"SELECT * FROM `{table}`")
                    rows += cursor.fetchall()
        finally:
            conn.close()
    return "\n".join(repr(row) for row in rows)


def _logins_work(server: ServerProcess, demo: DemoTenant) -> None:
    for account in (demo.admin, *demo.agents):
        response = httpx.post(
            server.url + "/api/v1/auth/login",
            timeout=10,
            json={"tenant": demo.tenant, "email": account.email, "password": account.password},
        )
        assert response.status_code == 200, (account.email, response.text)


def test_the_data_dir_and_its_files_are_private_from_the_start(server_factory) -> None:  # type: ignore[no-untyped-def]
    node: ServerProcess = server_factory()
    modes = _modes(node.data_dir)
    ours = {name: mode for name, mode in modes.items() if not name.endswith(".log")}
    assert "secret_key" in ours
    if node.database_url.startswith("sqlite"):
        assert {"steadydesk.db", "steadydesk.db-wal", "steadydesk.db-shm"} <= set(ours)
    loose = {name: oct(mode) for name, mode in ours.items() if mode & 0o077}
    assert not loose, f"readable by others: {loose}"
    assert modes["."] == 0o700


def test_an_older_world_readable_data_dir_is_tightened_at_start(server_factory) -> None:  # type: ignore[no-untyped-def]
    node: ServerProcess = server_factory()
    node.stop()
    os.chmod(node.data_dir, 0o755)
    for path in node.data_dir.iterdir():
        if path.is_file() and not path.name.endswith(".log"):
            os.chmod(path, 0o644)
    node.start()
    loose = {
        n: oct(m) for n, m in _modes(node.data_dir).items() if m & 0o077 and not n.endswith(".log")
    }
    assert not loose, f"still readable by others: {loose}"
    this_start = node.log_path.read_text().rsplit("===== start #", 1)[-1]
    said = [line for line in this_start.splitlines() if "readable by other users" in line]
    assert len(said) == 1, said


def test_no_password_is_stored_and_every_demo_run_prints_working_logins(server_factory) -> None:  # type: ignore[no-untyped-def]
    node: ServerProcess = server_factory()
    assert node.demo is not None
    again = node.run_demo()
    assert again.admin == node.demo.admin and again.api_secret == node.demo.api_secret
    _logins_work(node, again)
    stored = _stored_text(node)
    for account in (again.admin, *again.agents):
        assert account.password not in stored, f"{account.email}'s password is stored"
    node.stop()
    node.start()
    third = node.run_demo()
    assert third.admin == again.admin
    _logins_work(node, third)


def test_with_encryption_on_no_secret_is_stored_in_plain_text(server_factory) -> None:  # type: ignore[no-untyped-def]
    node: ServerProcess = server_factory(KEYS)
    assert node.demo is not None
    demo = node.demo
    stored = _stored_text(node)
    for name, secret in (
        ("site", demo.site_secret),
        ("api", demo.api_secret),
        ("admin password", demo.admin.password),
    ):
        assert secret not in stored, f"the {name} secret is stored in plain text"
    _logins_work(node, demo)
    signed = node.run_demo()  # the secrets still read back through the sealed fields
    assert signed.api_secret == demo.api_secret and signed.site_secret == demo.site_secret
