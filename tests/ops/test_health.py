"""``fab health``: green on a healthy install, red (exit 1) when Redis stops, and green
again once it is back."""

from __future__ import annotations

import pytest

from tests.ops.conftest import ops_suite
from tests.ops.support import Lab, assert_ok, output
from tests.support.testhost import TestHost

pytestmark = [ops_suite, pytest.mark.slow, pytest.mark.timeout(600)]


def test_health_is_red_while_redis_is_stopped(lab: Lab, installed_host: TestHost) -> None:
    green = assert_ok(lab.fab(installed_host, "health"))
    assert "health: all green" in green
    for node in ("blue-1", "blue-2"):
        assert node in green

    installed_host.ssh("systemctl stop redis-server")
    red = lab.fab(installed_host, "health")
    assert red.returncode == 1, output(red)
    assert "Traceback" not in red.stdout + red.stderr
    problems = [line for line in red.stdout.splitlines() if line.startswith("RED ")]
    assert any(" redis: DOWN" in line for line in problems), output(red)
    assert any("node blue-1 healthz: 503" in line for line in problems), output(red)
    assert red.stderr.strip() == f"fab health: {len(problems)} problem(s)"

    installed_host.ssh("systemctl start redis-server")
    assert "health: all green" in assert_ok(lab.fab(installed_host, "health"))
