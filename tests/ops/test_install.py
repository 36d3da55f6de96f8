"""``fab install`` on a bare Debian 12 host: HTTPS through nginx to healthy nodes that
answer a visitor and an agent; a second run changes nothing; failures are one line."""

from __future__ import annotations

import pytest

from tests.ops.conftest import Installed, ops_suite
from tests.ops.support import Front, Lab, assert_ok, output
from tests.support.clients import open_conversation
from tests.support.http import http_client
from tests.support.testhost import TestHost

pytestmark = [ops_suite, pytest.mark.slow, pytest.mark.timeout(1500)]

STEPS = [
    "host", "system packages", "system services", "service user and directories", "database",
    "configuration", "release", "schema migrations", "first tenant", "TLS certificate",
    "node processes", "nginx site", "check through nginx",
]  # fmt: skip


def test_the_bare_host_runs_only_sshd(lab: Lab) -> None:
    host = lab.host(name="bare")
    try:
        packages = host.ssh(
            "dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' "
            "mariadb-server redis-server nginx python3 supervisor 2>/dev/null || true"
        ).stdout
        assert " ii" not in packages, packages
        listening = host.ssh("cat /proc/net/tcp /proc/net/tcp6 | awk '$4 == \"0A\"'").stdout
        ports = {int(line.split()[1].rsplit(":", 1)[1], 16) for line in listening.splitlines()}
        assert ports == {22}, f"listening on {ports}"
        assert host.ssh("ps -p 1 -o comm=").stdout.strip() == "systemd"
    finally:
        host.discard()
        lab.hosts.remove(host)


async def test_install_from_nothing_serves_https_a_visitor_and_an_agent(
    installed: Installed, installed_host: TestHost
) -> None:
    out = installed.stdout
    for step in STEPS:
        assert f"] {step} ..." in out and f"] {step}: " in out, f"step {step!r} not reported"
    creds = installed.credentials
    assert creds.url == f"https://{installed.address}/"
    assert "shown this once" in out

    host = installed_host
    config = host.ssh("stat -c '%a %U' /etc/steadydesk/steadydesk.json").stdout.split()
    assert config == ["600", "steadydesk"]
    assert host.ssh("systemctl is-active steadydesk-blue@8801 steadydesk-blue@8802").returncode == 0

    front = Front(host)  # TLS checked against the host's certificate and its address
    async with front.http() as client:
        health = await client.get("/api/healthz")
        assert health.status_code == 200, health.text
        assert health.json() == {"database": "OK", "redis": "OK", "websocket": "OK",
                                 "version": health.json()["version"]}  # fmt: skip
        assert health.headers["x-steadydesk-group"] == "blue"
    async with http_client() as plain:
        moved = await plain.get(f"http://{host.address}/api/healthz?x=1")
    assert moved.status_code == 301
    assert moved.headers["location"] == f"https://{host.address}/api/healthz?x=1"

    session = await front.visitor_session(creds.site_key)
    login = await front.login(creds.tenant, creds.admin_email, creds.admin_password)
    visitor = await front.websocket(f"/ws/visitor?site={creds.site_key}", "visitor")
    agent = await front.websocket(f"/ws/agent?tenant={creds.tenant}", "agent")
    try:
        await visitor.hello(session["token"])
        await agent.hello(login["token"])
        conv = await open_conversation(visitor, agent, "Hello through nginx", timeout=15)
        await agent.send_and_ack("Hello back", conv, timeout=15)
        seen = await visitor.recv_until(
            lambda f: f.get("type") == "message" and f.get("body") == "Hello back", 15
        )
        assert seen["conv"] == conv
    finally:
        await visitor.close()
        await agent.close()


def test_a_second_install_changes_nothing_and_says_so(lab: Lab, installed_host: TestHost) -> None:
    host = installed_host
    before = host.ssh("sha256sum /etc/steadydesk/*.json /etc/nginx/sites-available/steadydesk "
                      "/etc/steadydesk/tls/*; readlink /opt/steadydesk/current").stdout  # fmt: skip
    out = assert_ok(lab.fab(host, "install"))
    assert "nothing changed" in out, out
    for step in STEPS:
        assert f"] {step}: ok, " in out, f"{step!r} did something:\n{out}"
    assert "shown this once" not in out and "(password shown by the first install)" in out
    after = host.ssh("sha256sum /etc/steadydesk/*.json /etc/nginx/sites-available/steadydesk "
                     "/etc/steadydesk/tls/*; readlink /opt/steadydesk/current").stdout  # fmt: skip
    assert after == before


def test_a_failed_step_is_one_line_naming_the_step_and_the_host_error(lab: Lab) -> None:
    host = lab.host(name="broken-apt")
    try:
        # The host's apt can no longer reach any mirror (a proxy nobody listens on).
        host.ssh(
            "echo 'Acquire::http::Proxy \"http://127.0.0.1:9\";' "
            "> /etc/apt/apt.conf.d/00steadydesk-test-proxy"
        )
        result = lab.fab(host, "install")
    finally:
        host.discard()
        lab.hosts.remove(host)
    assert result.returncode == 1, output(result)
    assert "Traceback" not in result.stdout + result.stderr, output(result)
    error = result.stderr.strip().splitlines()
    assert len(error) == 1, output(result)
    assert error[0].startswith(f"fab install: {host.address}: system packages failed: ")
    assert "apt-get" in error[0] and "127.0.0.1" in error[0], error[0]

    unreachable = lab.fab(lab.network.next_address(), "install", timeout=120)
    assert unreachable.returncode == 1, output(unreachable)
    assert "Traceback" not in unreachable.stdout + unreachable.stderr, output(unreachable)
    assert "cannot reach the host over SSH" in unreachable.stderr, output(unreachable)
