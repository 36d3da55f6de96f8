"""A backup that runs out of room fails with one line, leaves nothing half-written, and is
recorded as failed (so /metrics and ``fab health`` show it). The full disk is a file-size
limit on the backup process (``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored so writes fail
with EFBIG as they would with ENOSPC); the database is MariaDB, whose files the limit does
not touch."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backups.support import cli_ok, query
from tests.support.server import REPO_ROOT, _base_env
from tests.support.services import create_mysql_database, drop_mysql_database

LIMIT_BYTES = 1 << 20


@pytest.fixture
def install(tmp_path: Path) -> Iterator[dict[str, str]]:
    made = create_mysql_database()
    env = {**_base_env(), "STEADY_DATA_DIR": str(tmp_path / "data"),
           "STEADY_DATABASE_URL": made.url}
    try:
        cli_ok(env, "demo", "--json")
        yield env
    finally:
        drop_mysql_database(made.name)


def _limited() -> None:  # in the child, before exec
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT_BYTES, LIMIT_BYTES))


@pytest.mark.mysql
def test_a_full_disk_fails_the_backup_cleanly(install: dict[str, str], tmp_path: Path) -> None:
    url = install["STEADY_DATABASE_URL"]
    now = int(time.time() * 1000)
    for start in range(0, 20_000, 1000):
        values = ", ".join(["('default', 'c-big', %s, %s, 'text', 'visitor', 'v', '', %s, %s, %s)"
                            .replace("%s", "?")] * 1000)
        params: list[object] = []
        for seq in range(start + 1, start + 1001):
            params += [seq, f"m{seq:09d}", f"cid{seq}", "x" * 200, now]
        query(url, "INSERT INTO message (tenant_id, conversation_id, seq, id, kind, sender_type, "
                   f"sender_id, sender_name, cid, body, created_ms) VALUES {values}", params)
    to = tmp_path / "backups"
    done = subprocess.run(
        [sys.executable, "-m", "server", "backup", "--to", str(to)], cwd=REPO_ROOT,
        env=install, capture_output=True, timeout=120, preexec_fn=_limited, check=False,
    )
    err = done.stderr.decode()
    assert done.returncode == 1 and "Traceback" not in err, err
    last = [line for line in err.splitlines() if line.startswith("steadydesk:")][-1]
    assert last.startswith(f"steadydesk: backup into {to} failed: File too large"), last
    assert list(to.iterdir()) == []  # no archive, no partial file, no work directory
    runs = query(url, "SELECT ok, error FROM backup_run")
    assert len(runs) == 1 and runs[0][0] == 0 and "File too large" in runs[0][1]
    # With room again, the next backup is whole.
    made = cli_ok(install, "backup", "--to", str(to), "--json").json()
    assert made["rows"]["message"] == 20_000
