"""A host without systemd as PID 1 (a container running sshd alone): fab install puts the
nodes under Debian's supervisord, and restart and health work the same. This install is
also the SaaS one, with its own first tenant (the other tests' is SelfHosted, default)."""

from __future__ import annotations

import pytest

from tests.ops.conftest import ops_suite
from tests.ops.support import Lab, assert_ok, wait_serving

pytestmark = [ops_suite, pytest.mark.slow, pytest.mark.timeout(1500)]


def test_install_without_systemd_runs_the_nodes_under_supervisord(lab: Lab) -> None:
    host = lab.host(boot=False, name="no-systemd")
    try:
        assert host.ssh("test -d /run/systemd/system", check=False).returncode != 0
        out = assert_ok(lab.fab(host, "install", "--nodes", "1", "--saas", "--tenant", "acme"))
        assert "no systemd: nodes run under supervisord" in out
        assert "1 nodes started under supervisord, healthy" in out
        assert "tenant:       acme (SaaS)" in out
        assert "operator:     operator@localhost / " in out, out
        config = host.ssh("cat /etc/steadydesk/steadydesk.json").stdout
        assert '"mode": "SaaS"' in config and '"tenant": "acme"' in config
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
        again = assert_ok(lab.fab(host, "install"))  # options read back from the host
        assert "nothing changed" in again and "tenant:       acme (SaaS)" in again
        assert "operator:" not in again
    finally:
        host.discard()
        lab.hosts.remove(host)
