"""The ops tests' lab: a network with an apt cache, the cached bare root, an SSH key, and
``fab`` run for real (the repository's fabfile, as a sysadmin would) against test hosts.

Clients reach an installed host only through its nginx, over HTTPS checked against the
host's own (self-signed) certificate.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from tests.support.clients import WsClient
from tests.support.debian_root import CACHE_DIR, AptProxy, bare_root
from tests.support.testhost import TestHost, TestNetwork, ssh_keypair

REPO_ROOT = Path(__file__).resolve().parents[2]
# The release before this one: its protocol suite runs on this release's schema
# (test_expand_contract.py), and gray tests roll it out beside it. It must be a release that
# starts on a newer, expand-only schema (main from the ops merge on; earlier ones refuse).
PREVIOUS_RELEASE = "c4e415e8fa870cde77dc9c343b5a5dbf357658e4"
FAB = Path(sys.executable).parent / "fab"
FAB_TIMEOUT_SECS = 1200


@dataclass
class Lab:
    network: TestNetwork
    proxy: AptProxy
    root: Path
    key: Path
    work: Path
    hosts: list[TestHost] = field(default_factory=list)
    fab_log: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, work: Path) -> Lab:
        network = TestNetwork.create()
        proxy = AptProxy(network.gateway, work / "apt-proxy")
        try:
            proxy.start()
            root = bare_root(proxy.url)
        except BaseException:
            proxy.stop()
            network.destroy()
            raise
        return cls(network, proxy, root, ssh_keypair(work / "ssh"), work)

    def host(
        self,
        *,
        layers: Sequence[Path] = (),
        address: str | None = None,
        boot: bool = True,
        name: str = "host",
    ) -> TestHost:
        """A fresh copy booted from ``layers`` (top first) over the bare root."""
        index = len(self.hosts)
        host = TestHost(
            self.network,
            [*layers, self.root],
            self.work / f"{name}-{index}",
            self.key,
            address or self.network.next_address(),
            boot=boot,
        )
        self.hosts.append(host)
        try:
            host.start()
        except BaseException:
            host.discard()
            raise
        return host

    def fab(
        self, host: TestHost | str, *args: str, timeout: float = FAB_TIMEOUT_SECS
    ) -> subprocess.CompletedProcess[str]:
        """``fab -H root@<host> -i <key> ARGS`` from the repository root."""
        address = host.address if isinstance(host, TestHost) else host
        home = self.work / "home"  # no ~/.ssh/config or known_hosts of the machine's user
        home.mkdir(exist_ok=True)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("STEADY_")},
            "HOME": str(home),
            # Wheels and wheelhouses survive between runs (CI runs on this machine).
            "STEADY_OPS_CONTROLLER_CACHE": str(CACHE_DIR / "controller"),
        }
        command = [str(FAB), "-H", f"root@{address}", "-i", str(self.key), *args]
        started = time.monotonic()
        result = subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip
        took = time.monotonic() - started
        self.fab_log.append(
            f"fab {' '.join(args)} on {address}: exit {result.returncode}, {took:.0f} s"
        )
        return result

    def close(self) -> None:
        for host in self.hosts:
            host.discard()
        self.proxy.stop()
        self.network.destroy()
        shutil.rmtree(self.work, ignore_errors=True)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-3000:]}"


def assert_ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, output(result)
    assert "Traceback" not in result.stdout + result.stderr, output(result)
    return result.stdout


@dataclass(frozen=True)
class InstallCredentials:
    url: str
    tenant: str
    admin_email: str
    admin_password: str
    site_key: str

    @classmethod
    def parse(cls, stdout: str) -> InstallCredentials:
        def field(pattern: str) -> str:
            found = re.search(pattern, stdout, re.MULTILINE)
            assert found, f"{pattern!r} not in fab install's output:\n{stdout[-3000:]}"
            return found.group(1)

        admin = re.search(r"admin login:\s+(\S+) / (\S+)", stdout)
        assert admin, f"no admin password in fab install's output:\n{stdout[-3000:]}"
        return cls(
            url=field(r"^   URL:\s+(\S+)"),
            tenant=field(r"^   tenant:\s+(\S+)"),
            admin_email=admin.group(1),
            admin_password=admin.group(2),
            site_key=field(r'data-site="([^"]+)"'),
        )


class Front:
    """HTTP and WebSocket clients of an installed host, through nginx over HTTPS."""

    def __init__(self, host: TestHost, *, pinned_name: bool = True) -> None:
        self.host = host
        self.cert = host.work_dir / "host-cert.pem"
        self.cert.write_text(host.ssh("cat /etc/steadydesk/tls/selfsigned.crt").stdout)
        self.tls = ssl.create_default_context(cafile=str(self.cert))
        self.tls.check_hostname = pinned_name
        self.url = f"https://{host.address}"
        self.ws_url = f"wss://{host.address}"

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, verify=self.tls, timeout=15, trust_env=False)

    async def websocket(self, path: str, label: str) -> WsClient:
        ws = await connect(
            self.ws_url + path, ssl=self.tls, open_timeout=10, ping_interval=None,
            close_timeout=2, max_size=32 * 2**20, max_queue=None, proxy=None,
        )  # fmt: skip
        return WsClient(ws, label=label)

    async def visitor_session(self, site_key: str, **body: Any) -> dict[str, Any]:
        async with self.http() as client:
            resp = await client.post(
                "/api/v1/visitor/session",
                params={"site": site_key},
                json={"site_key": site_key, **body},
            )
        assert resp.status_code == 200, f"visitor session: {resp.status_code} {resp.text}"
        data: dict[str, Any] = resp.json()
        return data

    async def login(self, tenant: str, email: str, password: str) -> dict[str, Any]:
        async with self.http() as client:
            resp = await client.post(
                "/api/v1/auth/login",
                params={"tenant": tenant},
                json={"tenant": tenant, "email": email, "password": password},
            )
        assert resp.status_code == 200, f"login: {resp.status_code} {resp.text}"
        data: dict[str, Any] = resp.json()
        return data


def wait_serving(host: TestHost, ports: Sequence[int] = (8801, 8802), timeout: float = 90) -> None:
    """After a boot the nodes take seconds to listen: wait until every node answers its
    healthz on the host, then until nginx does (a node nginx saw refusing is skipped for
    5 s, which is harmless once another node of the group is known to answer)."""
    probe = (
        "import sys, time, urllib.request\n"
        f"deadline = time.monotonic() + {timeout}\n"
        "for port in sys.argv[1:]:\n"
        "    while True:\n"
        "        try:\n"
        "            urllib.request.urlopen(f'http://127.0.0.1:{port}/api/healthz', timeout=3)\n"
        "            break\n"
        "        except OSError:\n"
        "            if time.monotonic() > deadline: sys.exit(f'node {port} not healthy')\n"
        "            time.sleep(0.2)\n"
    )
    host.ssh(f"python3 - {' '.join(map(str, ports))}", input=probe, timeout=timeout + 30)
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            resp = httpx.get(f"https://{host.address}/api/healthz", verify=False, timeout=5)
            if resp.status_code == 200:
                return
            last = f"HTTP {resp.status_code}"
        except httpx.HTTPError as err:
            last = str(err)
        time.sleep(0.5)
    raise AssertionError(f"{host.address} not serving through nginx after {timeout} s: {last}")
