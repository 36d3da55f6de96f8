"""The expand/contract rule (docs/operations.md): a release's migrations only add, so the
previous release keeps working on the new schema while both run during a gray rollout.

The check is the previous release's own protocol tests, checked out from this
repository's history, run against MySQL databases that THIS release migrated first
(``expand_plugin.py``). When a release ships, move ``PREVIOUS_RELEASE`` to its commit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.conftest import ops_suite
from tests.ops.support import PREVIOUS_RELEASE
from tests.support.services import mysql_base_url, require_mysql

pytestmark = [ops_suite, pytest.mark.mysql, pytest.mark.slow, pytest.mark.timeout(1200)]

REPO_ROOT = Path(__file__).resolve().parents[2]
# The protocol tests that write and read stored data: sessions and logins, messages,
# sync and replay, delivery through restarts (the handshake, limits and lifecycle files
# exercise no schema, and the whole suite takes 3-4 minutes on a busy 2-core machine).
SUITE = [
    *("tests/protocol/test_http_api.py", "tests/protocol/test_messaging.py"),
    *("tests/protocol/test_delivery.py", "-k", "mysql", "-m", "not slow"),
]


def test_the_previous_release_passes_its_protocol_tests_on_this_schema(tmp_path: Path) -> None:
    require_mysql()
    previous = tmp_path / "previous"
    previous.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", PREVIOUS_RELEASE],
        capture_output=True, check=True,
    )  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(previous)], input=archive.stdout, check=True)
    log = tmp_path / "expanded.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    env.update(
        {
            "PYTHONPATH": str(Path(__file__).parent),  # expand_plugin, nothing else of ours
            "STEADY_NEW_RELEASE_ROOT": str(REPO_ROOT),
            "STEADY_EXPAND_LOG": str(log),
            "STEADY_TEST_REQUIRE_SERVICES": "1",
            "STEADY_TEST_MYSQL_URL": mysql_base_url(),
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "expand_plugin",
         "-p", "no:cacheprovider", *SUITE],
        cwd=previous, env=env, capture_output=True, text=True, timeout=1100, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
    expanded = log.read_text().split() if log.exists() else []
    assert expanded, "no database was migrated by this release: the check checked nothing"
    passed = [line for line in done.stdout.splitlines() if " passed" in line]
    assert passed, done.stdout[-2000:]
