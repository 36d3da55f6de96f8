"""Hosts for the ops tests: copies of a bare Debian 12 root booted in their own network.

``TestNetwork`` is a bridge on this machine (``sdopsN``, 10.213.N.0/24, this machine is
.1) that every test host of a run is plugged into; nothing routes from it to anywhere
else. ``TestHost`` is one machine on it: a network namespace with a veth pair and its own
address, an overlay of the cached root (plus the layers of hosts stopped earlier, so a
test can start from an installed host without installing again), and
``systemd-nspawn --boot`` (systemd as PID 1) or plain ``systemd-nspawn`` running only
sshd (no init: the installer's supervisord path). Root logs in with a key; sshd is the
only thing running until ``fab install``.

Every resource is named after the network so a crashed run's leftovers are recognised
and removed by the next run (``TestNetwork.create`` checks the owner pid).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.debian_root import require_programs

STATE_DIR = Path("/run/steadydesk-ops")
SUBNET_PREFIX = "10.213"
BOOT_TIMEOUT_SECS = 60
STOP_TIMEOUT_SECS = 40
SSH_OPTIONS = (
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=5",
)  # fmt: skip


def _ip(
    *args: str, netns: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    cmd = ["ip", *(["-n", netns] if netns else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_container(nspawn_pid: int) -> None:
    """SIGKILL the container's init (its PID namespace dies with it), then nspawn: killing
    nspawn alone would leave the container running, orphaned."""
    children = subprocess.run(
        ["pgrep", "-P", str(nspawn_pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    for pid in [*map(int, children), nspawn_pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class TestNetwork:
    """A bridge with this machine as the gateway; hosts get .10 and up."""

    __test__ = False  # not a pytest test class

    def __init__(self, index: int) -> None:
        self.index = index
        self.bridge = f"sdops{index}"
        self.gateway = f"{SUBNET_PREFIX}.{index}.1"
        self._next_host = 10

    @classmethod
    def create(cls) -> TestNetwork:
        require_programs("ip", "systemd-nspawn")
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        cls._clean_stale()
        for index in range(1, 250):
            owner = STATE_DIR / f"sdops{index}.owner"
            if _ip(
                "link", "add", "name", f"sdops{index}", "type", "bridge", check=False
            ).returncode:
                continue  # taken by a concurrent run
            owner.write_text(str(os.getpid()))
            net = cls(index)
            _ip("addr", "add", f"{net.gateway}/24", "dev", net.bridge)
            _ip("link", "set", net.bridge, "up")
            return net
        raise RuntimeError("no free sdops bridge index")

    @classmethod
    def _clean_stale(cls) -> None:
        """Remove the bridges, namespaces and mounts of runs whose process is gone."""
        for owner in STATE_DIR.glob("sdops*.owner"):
            with contextlib.suppress(ValueError, OSError):
                if _alive(int(owner.read_text().strip() or "0")):
                    continue
            index = int(owner.name.removeprefix("sdops").removesuffix(".owner"))
            stale = cls(index)
            stale._remove_hosts()
            _ip("link", "del", stale.bridge, check=False)
            owner.unlink(missing_ok=True)

    def _remove_hosts(self) -> None:
        for record in STATE_DIR.glob(f"{self.bridge}-*.host"):
            netns, merged, pid = ([*record.read_text().split("\n"), "", "", ""])[:3]
            if pid.isdigit() and _alive(int(pid)):
                _kill_container(int(pid))
            if merged:
                subprocess.run(["umount", "-l", merged], capture_output=True, check=False)
            if netns:
                _ip("netns", "del", netns, check=False)
            record.unlink(missing_ok=True)

    def next_address(self) -> str:
        self._next_host += 1
        return f"{SUBNET_PREFIX}.{self.index}.{self._next_host}"

    def destroy(self) -> None:
        self._remove_hosts()
        _ip("link", "del", self.bridge, check=False)
        (STATE_DIR / f"{self.bridge}.owner").unlink(missing_ok=True)


@dataclass
class TestHost:
    """One booted copy of the root; ``address`` is where sshd (and later nginx) listens."""

    __test__ = False

    network: TestNetwork
    lower: Sequence[Path]  # overlay layers, top first; the bare root last
    work_dir: Path
    key: Path
    address: str
    hostname: str = "steadyhost"
    boot: bool = True  # systemd as PID 1; False: sshd alone (no init), as in a container
    proc: subprocess.Popen[bytes] | None = None
    name: str = field(default_factory=lambda: secrets.token_hex(3))

    @property
    def netns(self) -> str:
        return f"{self.network.bridge}-{self.name}"

    @property
    def upper(self) -> Path:
        """What this host changed: usable as a layer for later hosts once it is stopped."""
        return self.work_dir / "upper"

    @property
    def merged(self) -> Path:
        return self.work_dir / "root"

    @property
    def log(self) -> Path:
        return self.work_dir / "console.log"

    def _record(self) -> None:
        pid = str(self.proc.pid) if self.proc else ""
        record = STATE_DIR / f"{self.netns}.host"
        record.write_text(f"{self.netns}\n{self.merged}\n{pid}")

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for d in (self.upper, self.work_dir / "ovl-work", self.merged):
            d.mkdir(parents=True, exist_ok=True)
        self._record()
        lowerdir = ":".join(str(p) for p in self.lower)
        subprocess.run(
            [
                "mount", "-t", "overlay", "overlay", "-o",
                f"lowerdir={lowerdir},upperdir={self.upper},workdir={self.work_dir / 'ovl-work'}",
                str(self.merged),
            ],
            check=True, capture_output=True,
        )  # fmt: skip
        self._personalise()
        self._plug_in()
        self.proc = subprocess.Popen(
            self._nspawn_command(),
            stdin=subprocess.DEVNULL,
            stdout=open(self.log, "wb"),  # noqa: SIM115 - lives as long as the container
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._record()
        self.wait_for_ssh()

    def _personalise(self) -> None:
        root = self.merged
        (root / "etc/hostname").write_text(self.hostname + "\n")
        hosts = root / "etc/hosts"
        text = hosts.read_text() if hosts.exists() else ""
        if self.hostname not in text:
            hosts.write_text(f"127.0.1.1\t{self.hostname}\n{text}")
        (root / "etc/machine-id").write_text(uuid.uuid4().hex + "\n")
        ssh_dir = root / "root/.ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(Path(f"{self.key}.pub").read_text())
        os.chmod(ssh_dir / "authorized_keys", 0o600)
        # Test-host setup, not product: apt reaches the mirror through the test's cache.
        (root / "etc/apt/apt.conf.d/00steadydesk-test-proxy").write_text(
            f'Acquire::http::Proxy "http://{self.network.gateway}:3142";\n'
        )

    def _plug_in(self) -> None:
        host_end, guest_end = f"sdv{self.name}", f"sdg{self.name}"
        _ip("netns", "add", self.netns)
        _ip("link", "add", host_end, "type", "veth", "peer", "name", guest_end)
        _ip("link", "set", guest_end, "netns", self.netns)
        _ip("link", "set", host_end, "master", self.network.bridge)
        _ip("link", "set", host_end, "up")
        _ip("link", "set", guest_end, "name", "eth0", netns=self.netns)
        _ip("addr", "add", f"{self.address}/24", "dev", "eth0", netns=self.netns)
        _ip("link", "set", "eth0", "up", netns=self.netns)
        _ip("link", "set", "lo", "up", netns=self.netns)
        _ip("route", "add", "default", "via", self.network.gateway, netns=self.netns)

    def _nspawn_command(self) -> list[str]:
        common = [
            "systemd-nspawn",
            f"--directory={self.merged}",
            f"--machine=sdops-{self.name}",
            f"--hostname={self.hostname}",
            f"--network-namespace-path=/run/netns/{self.netns}",
            "--register=no",
            "--keep-unit",
            "--quiet",
        ]
        if self.boot:
            return [*common, "--boot"]
        # No init system: sshd alone, as in a container (nspawn's stub init reaps zombies).
        return [
            *common,
            "--as-pid2",
            "/bin/sh",
            "-c",
            "mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e",
        ]

    def wait_for_ssh(self) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT_SECS
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the container exited:\n{self.console_tail()}")
            with contextlib.suppress(OSError):
                socket.create_connection((self.address, 22), timeout=1).close()
                if self.ssh("true", check=False, timeout=10).returncode == 0:
                    return
            time.sleep(0.3)
        raise RuntimeError(
            f"sshd did not answer within {BOOT_TIMEOUT_SECS}s:\n{self.console_tail()}"
        )

    def console_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self, *, clean: bool = True) -> None:
        """Shut down cleanly (SIGTERM is a poweroff for a booted container; what it changed
        can then be a layer), or at once; then unplug."""
        if self.proc is not None and self.proc.poll() is None:
            if clean:
                self.proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(STOP_TIMEOUT_SECS)
            if self.proc.poll() is None:
                _kill_container(self.proc.pid)
                self.proc.wait(10)
        self.proc = None
        subprocess.run(["umount", str(self.merged)], capture_output=True, check=False)
        _ip("netns", "del", self.netns, check=False)
        (STATE_DIR / f"{self.netns}.host").unlink(missing_ok=True)

    def discard(self) -> None:
        """Gone at once: nothing of it is kept."""
        self.stop(clean=False)
        shutil.rmtree(self.work_dir, ignore_errors=True)

    # ------------------------------------------------------------------ use

    def ssh(
        self, command: str, *, check: bool = True, timeout: float = 120, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["ssh", *SSH_OPTIONS, "-i", str(self.key), f"root@{self.address}", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"on {self.address}: {command!r} exited {result.returncode}:\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
        return result

    def read(self, path: str) -> str:
        """A file of the running host, read through the overlay."""
        return (self.merged / path.lstrip("/")).read_text()


def ssh_keypair(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "id_ed25519"
    if not key.exists():
        subprocess.run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "steadydesk-ops-test",
                "-f",
                str(key),
            ],
            check=True,
        )
    return key
