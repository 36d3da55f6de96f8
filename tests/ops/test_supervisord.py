"""A host without systemd as PID 1 (a container running sshd alone): fab install puts the
nodes under Debian's supervisord, and restart and health work the same."""

from __future__ import annotations

import pytest

from tests.ops.conftest import ops_suite
from tests.ops.support import Lab, assert_ok, wait_serving

pytestmark = [ops_suite, pytest.mark.slow, pytest.mark.timeout(1500)]


def test_install_without_systemd_runs_the_nodes_under_supervisord(lab: Lab) -> None:
    host = lab.host(boot=False, name="no-systemd")
    try:
        assert host.ssh("test -d /run/systemd/system", check=False).returncode != 0
        out = assert_ok(lab.fab(host, "install", "--nodes", "1"))
        assert "no systemd: nodes run under supervisord" in out
        assert "1 nodes started under supervisord, healthy" in out
        wait_serving(host, ports=[8801])
        # RUNNING once it has stayed up startsecs (3 s); STARTING until then.
        status = host.ssh(
            "for i in $(seq 50); do supervisorctl status | grep -q ' RUNNING ' && break; "
            "sleep 0.2; done; supervisorctl status"
        ).stdout
        assert "steadydesk-blue-8801" in status and " RUNNING " in status, status

        restarted = assert_ok(lab.fab(host, "restart"))
        assert "restart blue node 8801: restarted, healthy" in restarted
        assert "health: all green" in assert_ok(lab.fab(host, "health"))
        assert "nothing changed" in assert_ok(lab.fab(host, "install"))
    finally:
        host.discard()
        lab.hosts.remove(host)
