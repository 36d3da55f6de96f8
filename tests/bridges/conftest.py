"""Fixtures of the bridge suite: one Steadydesk server, one local Slack and one Slack
bridge per module (tests that kill or revoke a bridge start their own)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.bridges.support import BridgeProcess
from tests.fakes.slack import FakeSlack
from tests.support.server import REPO_ROOT, ServerProcess


def steadydesk(server: ServerProcess, *args: str) -> str:
    """Run the server's CLI (``python -m server ...``) against this server's database."""
    done = subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=REPO_ROOT,
        env=server.env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"steadydesk {' '.join(args)}: {done.stderr.decode()[-2000:]}"
    return done.stdout.decode()


def create_bridge(server: ServerProcess, name: str, kind: str = "slack") -> dict[str, Any]:
    assert server.demo is not None
    out = steadydesk(
        server,
        "bridge",
        "create",
        "--tenant",
        server.demo.tenant,
        "--kind",
        kind,
        "--name",
        name,
        "--json",
    )
    created: dict[str, Any] = json.loads(out)
    assert created["bridge_id"] and created["token"]
    return created


def link_code(server: ServerProcess, email: str) -> str:
    assert server.demo is not None
    out = steadydesk(
        server, "bridge", "link-code", "--tenant", server.demo.tenant, "--agent", email, "--json"
    )
    code: str = json.loads(out)["code"]
    return code


@dataclass
class Setup:
    server: ServerProcess
    slack: FakeSlack
    bridge: BridgeProcess
    bridge_id: str
    tmp: Path


@pytest.fixture(scope="module")
def bridge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("bridge-server")
    server = ServerProcess(
        tmp,
        f"sqlite:///{tmp}/steadydesk.db",
        env={
            "STEADY_CONN_RATE_IP": "100000",
            "STEADY_WS_RATE_VISITOR": "100000",
            "STEADY_WS_RATE_AGENT": "100000",
        },
    )
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def setup(
    bridge_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Setup]:
    tmp = tmp_path_factory.mktemp("slack-bridge")
    slack = await FakeSlack().start()
    created = create_bridge(bridge_server, "slack-main")
    bridge = BridgeProcess(tmp, bridge_server.url, created["token"], slack)
    await bridge.astart()
    yield Setup(bridge_server, slack, bridge, created["bridge_id"], tmp)
    bridge.stop()
    await slack.stop()
