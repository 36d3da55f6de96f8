"""Start-up failures: one clear line on stderr, a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import mysql_base_url, require_mysql


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    environ.update({"STEADY_DATA_DIR": str(tmp_path / "data"), **env})
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _assert_one_clear_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("steadydesk:")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.mysql
def test_serve_with_a_missing_mysql_database(tmp_path: Path) -> None:
    require_mysql()
    url = mysql_base_url().rstrip("/") + "/steady_no_such_db_x"
    result = _run(["serve", "--port", str(_free_port())], tmp_path, STEADY_DATABASE_URL=url)
    _assert_one_clear_line(result, "steady_no_such_db_x", "does not exist", "CREATE DATABASE")


def test_serve_with_redis_configured_but_down(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{_free_port()}/0"
    result = _run(["serve", "--port", str(_free_port())], tmp_path, STEADY_REDIS_URL=url)
    _assert_one_clear_line(result, "redis", "not reachable")


def test_serve_with_an_unreachable_database(tmp_path: Path) -> None:
    url = f"mysql://root@127.0.0.1:{_free_port()}/x"
    result = _run(["migrate"], tmp_path, STEADY_DATABASE_URL=url)
    _assert_one_clear_line(result, "not reachable")


def test_bad_setting_names_the_variable(tmp_path: Path) -> None:
    result = _run(["serve"], tmp_path, STEADY_PORT="eighty")
    _assert_one_clear_line(result, "STEADY_PORT")


def test_unwritable_data_dir_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = _run(["migrate"], tmp_path, STEADY_DATA_DIR=str(blocker / "data"))
    _assert_one_clear_line(result, "data dir")


def test_demo_twice_gives_working_credentials_for_the_same_tenant(tmp_path: Path) -> None:
    import json

    first = _run(["demo", "--json"], tmp_path)
    second = _run(["demo", "--json"], tmp_path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert set(one) == {
        "tenant",
        "site_key",
        "site_secret",
        "origin",
        "admin",
        "agents",
        "api_key",
        "api_secret",
    }
    assert one["tenant"] == two["tenant"] and one["site_key"] == two["site_key"]
    assert len(one["agents"]) == 2 and two["admin"]["password"]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def test_migrate_while_another_node_holds_the_lock_gives_up_in_one_line(
    tmp_path: Path, backend: str
) -> None:
    """Another node's migration held the lock: MySQL waited 120 s and ended in a
    traceback, SQLite's blocking flock waited for ever."""
    import threading

    from server.storage.migrations import _migration_lock
    from tests.support.services import blank_database

    path = tmp_path / "data" / "steady.db"
    path.parent.mkdir()
    locked, release = threading.Event(), threading.Event()
    with blank_database(backend, path) as database:
        url = (
            f"sqlite:///{path}"
            if backend == "sqlite"
            else mysql_base_url().rstrip("/") + f"/{database.database}"
        )

        def hold() -> None:  # the other node, in the middle of a long migration
            with database.connection_context(), _migration_lock(database):
                locked.set()
                release.wait(30)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert locked.wait(10)
            result = _run(
                ["migrate"], tmp_path, STEADY_DATABASE_URL=url, STEADY_MIGRATION_WAIT_SECS="2"
            )
        finally:
            release.set()
            holder.join(10)
    assert result.returncode == 3, result.stderr
    _assert_one_clear_line(result, "cannot start", "migrating this database", "over 2 s")

