"""Scheduled backups: exactly one node of a cluster runs them, another takes over within a
minute when it is killed (issue #15), and a failed backup shows in /metrics (an alert, not
silence). The lease period is shortened so the takeover is quick to watch."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.backups.support import cli_ok, query
from tests.support.server import ServerProcess
from tests.support.services import create_mysql_database, drop_mysql_database

EVERY_TWO_SECONDS = "*/2 * * * * *"
LEASE_SECS = "3"
TAKEOVER_LIMIT_SECS = 60.0  # the bound; expect about LEASE_SECS + a renewal


def metric(srv: ServerProcess, name: str) -> float:
    text = httpx.get(f"{srv.url}/metrics", timeout=5, trust_env=False).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics of {srv.name}")


def wait_for(check: Callable[[], bool], what: str, within: float = 30.0) -> float:
    """Seconds until ``check()`` holds (bounded)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within}s: {what}")
        time.sleep(0.2)
    return time.monotonic() - started


def leaders(nodes: list[ServerProcess]) -> list[ServerProcess]:
    return [n for n in nodes if metric(n, "steadydesk_backup_scheduler_leader") == 1]


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    database = create_mysql_database()
    shared = {
        "STEADY_SECRET_KEY": secrets.token_urlsafe(32),
        "STEADY_BACKUP_SCHEDULE": EVERY_TWO_SECONDS,
        "STEADY_BACKUP_LEASE_SECS": LEASE_SECS,
        "STEADY_BACKUP_DIR": str(tmp_path / "backups"),
        "STEADY_BACKUP_KEEP_DAILY": "1",  # rotation runs too: one archive left at a time
    }
    nodes = [ServerProcess(tmp_path / name, database.url, env=shared, name=name)
             for name in ("node-a", "node-b")]
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        drop_mysql_database(database.name)


def scheduled_runs(url: str) -> list[tuple[int, str, int | None]]:
    return query(url, "SELECT scheduled_for_ms, node, ok FROM backup_run "
                      "WHERE scheduled_for_ms IS NOT NULL ORDER BY scheduled_for_ms")


@pytest.mark.serial
@pytest.mark.mysql
def test_one_node_runs_the_schedule_and_another_takes_over_when_it_is_killed(
    two_nodes: list[ServerProcess],
) -> None:
    url = two_nodes[0].database_url
    wait_for(lambda: len(leaders(two_nodes)) == 1, "one leader")
    [holder] = leaders(two_nodes)
    [other] = [n for n in two_nodes if n is not holder]
    wait_for(lambda: len([r for r in scheduled_runs(url) if r[2]]) >= 2,
                   "two scheduled backups")
    assert {node for _, node, _ in scheduled_runs(url)} == {holder.node_name}
    # The follower ran none, yet reports them: its metrics come from the shared record.
    wait_for(lambda: metric(other, "steadydesk_backup_last_success_timestamp_seconds")
                   > 0, "the follower's metrics")
    assert metric(other, "steadydesk_backup_last_result") == 1

    killed_at = len(scheduled_runs(url))
    holder.kill9()
    took = wait_for(lambda: leaders([other]) == [other], "the takeover",
                          within=TAKEOVER_LIMIT_SECS)
    assert took < TAKEOVER_LIMIT_SECS
    print(f"takeover {took:.1f} s after kill -9 (lease {LEASE_SECS} s)")
    wait_for(
        lambda: len([r for r in scheduled_runs(url)[killed_at:]
                     if r[1] == other.node_name and r[2]]) >= 2,
        "two backups by the new holder",
    )
    runs = scheduled_runs(url)
    assert len({fire for fire, _, _ in runs}) == len(runs)  # each fire time once
    assert all(node == other.node_name for _, node, _ in runs[killed_at + 1:])
    # Every archive on disk is whole: a kill mid-backup leaves no archive under its name.
    directory = Path(other.env["STEADY_BACKUP_DIR"])
    archives = sorted(directory.glob("steadydesk-*.tar.gz"))
    assert archives
    for archive in archives:
        sidecar = archive.with_name(archive.name + ".sha256").read_text().split()[0]
        assert hashlib.sha256(archive.read_bytes()).hexdigest() == sidecar


def test_a_failed_backup_is_an_alert_not_silence(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the backup directory should be")
    srv = ServerProcess(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'steady.db'}",
                        env={"STEADY_BACKUP_SCHEDULE": EVERY_TWO_SECONDS,
                             "STEADY_BACKUP_LEASE_SECS": LEASE_SECS,
                             "STEADY_BACKUP_DIR": str(blocker / "backups")},
                        name="failing")
    srv.start()
    try:
        wait_for(lambda: metric(srv, "steadydesk_backup_last_attempt_timestamp_seconds")
                       > 0, "a scheduled attempt")
        assert metric(srv, "steadydesk_backup_last_result") == 0
        assert metric(srv, "steadydesk_backup_last_success_timestamp_seconds") == 0
        assert "ERROR backups.scheduler: scheduled backup failed" in srv.log_text()
        failed = query(srv.database_url, "SELECT ok, error FROM backup_run")
        assert failed and all(ok == 0 and error for ok, error in failed)
        # A good backup (from the CLI here) turns the light green on the next renewal.
        cli_ok(srv.env, "backup", "--to", str(tmp_path / "good"))
        wait_for(lambda: metric(srv, "steadydesk_backup_last_success_timestamp_seconds")
                       > 0, "the success in /metrics")
    finally:
        srv.stop()


def _messages(url: str, count: int) -> None:
    now = int(time.time() * 1000)
    for start in range(0, count, 1000):
        values = ", ".join(["('t', 'c-long', ?, ?, 'text', 'visitor', 'v', '', ?, ?, ?)"] * 1000)
        params: list[object] = []
        for seq in range(start + 1, start + 1001):
            params += [seq, f"m{seq:09d}", f"cid{seq}", "a long conversation " * 5, now]
        query(url, "INSERT INTO message (tenant_id, conversation_id, seq, id, kind, sender_type, "
                   f"sender_id, sender_name, cid, body, created_ms) VALUES {values}", params)


@pytest.mark.serial
def test_a_node_shutting_down_mid_backup_stops_it_and_says_so(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'steady.db'}",
                        env={"STEADY_BACKUP_SCHEDULE": EVERY_TWO_SECONDS,
                             "STEADY_BACKUP_LEASE_SECS": LEASE_SECS,
                             "STEADY_BACKUP_DIR": str(tmp_path / "backups")},
                        name="stopping")
    srv.start()
    try:
        _messages(srv.database_url, 400_000)
        before = query(srv.database_url, "SELECT COALESCE(MAX(id), 0) FROM backup_run")[0][0]
        running = "SELECT id FROM backup_run WHERE finished_ms IS NULL AND id > ?"
        wait_for(lambda: bool(query(srv.database_url, running, [before])),
                 "a backup of the 400,000 messages under way")
        started = time.monotonic()
        assert srv.stop() == 0
        assert time.monotonic() - started < 10, "the backup held the shutdown up"
    finally:
        srv.stop()
    runs = query(srv.database_url, "SELECT ok, error FROM backup_run ORDER BY id")
    # Stopped in the middle (it was reading 400,000 rows), and recorded: never left open.
    assert runs[-1] == (0, "stopped: the node is shutting down"), runs
    assert not [p for p in (tmp_path / "backups").iterdir() if p.name.startswith(".")]
