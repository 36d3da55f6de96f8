"""``fab backup`` (and ``--download``), ``fab restore-drill`` and the backup line of
``fab health`` on a real host, over the host's own ``steadydesk backup``/``restore``."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from tests.ops.conftest import Installed, ops_suite
from tests.ops.support import Front, Lab, assert_ok, output
from tests.support.clients import new_cid
from tests.support.testhost import TestHost

pytestmark = [ops_suite, pytest.mark.slow, pytest.mark.timeout(900)]
METRICS_REFRESH_SECS = 60  # nodes re-read the record of backup runs every ~13 s


def _check_download(directory: Path, out: str) -> None:
    archives = list(directory.glob("steadydesk-*.tar.gz"))
    assert len(archives) == 1, out
    sidecar = Path(f"{archives[0]}.sha256").read_text().split()[0]
    assert hashlib.sha256(archives[0].read_bytes()).hexdigest() == sidecar
    assert oct(archives[0].stat().st_mode & 0o777) == "0o600"
    assert oct(directory.stat().st_mode & 0o777) == "0o700"


def _health_until(lab: Lab, host: TestHost, text: str) -> str:
    deadline = time.monotonic() + METRICS_REFRESH_SECS
    while True:
        result = lab.fab(host, "health")
        if text in result.stdout or time.monotonic() > deadline:
            return result.stdout if text in result.stdout else output(result)
        time.sleep(2)


async def test_backup_download_drill_and_the_health_line(
    lab: Lab, installed: Installed, installed_host: TestHost, tmp_path: Path
) -> None:
    host, creds = installed_host, installed.credentials
    assert "none yet" in assert_ok(lab.fab(host, "health"))  # installed minutes ago: not red

    front = Front(host)
    session = await front.visitor_session(creds.site_key)
    visitor = await front.websocket(f"/ws/visitor?site={creds.site_key}", "visitor")
    try:
        await visitor.hello(session["token"])
        await visitor.send_and_ack("keep me safe", cid=new_cid(), timeout=15)
    finally:
        await visitor.close()

    out = assert_ok(lab.fab(host, "backup", "--download", "--to", str(tmp_path)))
    assert "1 message" in out, out
    _check_download(tmp_path / host.address, out)

    drill = assert_ok(lab.fab(host, "restore-drill"))
    assert "restored into a scratch database and verified: 1 message" in drill, drill
    assert host.ssh("ls /var/lib/steadydesk | grep -c '^ops\\.' || true").stdout.strip() == "0"
    assert "min ago" in _health_until(lab, host, "min ago")

    # A backup that cannot be written: one line from fab, and health turns red.
    host.ssh("chmod 000 /var/lib/steadydesk/backups")
    failed = lab.fab(host, "backup")
    assert failed.returncode == 1 and "Traceback" not in failed.stdout + failed.stderr
    assert failed.stderr.startswith(f"fab backup: {host.address}: backup failed: "), output(failed)
    red = _health_until(lab, host, "last attempt FAILED")
    assert "RED " in red and "backup: last attempt FAILED" in red, red
