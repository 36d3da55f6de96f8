"""The bare Debian 12 root filesystem the ops tests boot, and the apt cache it installs from.

The root is what a fresh cloud host has: Debian's minimal base plus systemd and sshd,
nothing else (no MariaDB, Redis, nginx or Python). It is made with ``debootstrap`` once
and cached under ``STEADY_OPS_CACHE_DIR`` (default ``/var/cache/steadydesk-ops``); the
cache is rebuilt when it is missing, older than ``ROOT_MAX_AGE_DAYS`` or made by another
recipe. Tests never write to it: every host boots an overlay on top of it.

``AptProxy`` is Debian's ``apt-cacher-ng``, started by the test on the test network's
gateway address with its cache in the same cache directory, so test hosts reach the
Debian mirror without routing (they can reach nothing else) and .debs are downloaded once
across runs. It is test-host setup: the product's installer knows nothing of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

CACHE_DIR = Path(os.environ.get("STEADY_OPS_CACHE_DIR", "/var/cache/steadydesk-ops"))
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# What a minimal Debian 12 cloud image boots with: systemd as PID 1, D-Bus and sshd.
ROOT_PACKAGES = ("systemd-sysv", "dbus", "openssh-server")
ROOT_RECIPE_VERSION = 2  # bump when the preparation below changes
ROOT_MAX_AGE_DAYS = 14  # then rebuilt, so the base does not drift far from the mirror
DEBOOTSTRAP_TIMEOUT_SECS = 900
APT_PROXY_PORT = 3142

SOURCES_LIST = f"""\
deb {MIRROR} {SUITE} main
deb {MIRROR} {SUITE}-updates main
deb http://deb.debian.org/debian-security {SUITE}-security main
"""


class HostToolMissing(RuntimeError):
    """A program the ops tests need on this machine is not installed."""


def require_programs(*names: str) -> None:
    missing = [n for n in names if not shutil.which(n) and not Path(f"/usr/sbin/{n}").exists()]
    if missing:
        raise HostToolMissing(
            f"the ops tests need {', '.join(missing)} "
            "(apt-get install debootstrap systemd-container apt-cacher-ng)"
        )


def _recipe_id() -> str:
    text = "\n".join([SUITE, MIRROR, *ROOT_PACKAGES, str(ROOT_RECIPE_VERSION), SOURCES_LIST])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fresh(root: Path) -> bool:
    stamp = root / ".steadydesk-root-ready"
    if not stamp.exists():
        return False
    return time.time() - stamp.stat().st_mtime < ROOT_MAX_AGE_DAYS * 86400


def bare_root(http_proxy: str | None = None) -> Path:
    """The cached root filesystem, built first when missing or stale."""
    roots = CACHE_DIR / "roots"
    root = roots / f"debian12-{_recipe_id()}"
    with _locked(roots / ".lock"):
        if _fresh(root):
            return root
        require_programs("debootstrap")
        building = roots / f".building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if http_proxy:
            env["http_proxy"] = http_proxy
        log = roots / "debootstrap.log"
        with open(log, "wb") as out:
            result = subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(ROOT_PACKAGES)}",
                    SUITE,
                    str(building),
                    MIRROR,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=DEBOOTSTRAP_TIMEOUT_SECS,
                check=False,
            )
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:]
            shutil.rmtree(building, ignore_errors=True)
            raise RuntimeError(f"debootstrap failed (exit {result.returncode}):\n{tail}")
        _prepare(building)
        for old in roots.glob("debian12-*"):
            shutil.rmtree(old, ignore_errors=True)
        building.rename(root)
        (root / ".steadydesk-root-ready").touch()
        return root


def _prepare(root: Path) -> None:
    """Make the debootstrapped tree look like a fresh cloud host."""
    (root / "etc/apt/sources.list").write_text(SOURCES_LIST)
    # No stale package lists: the installer must run apt-get update as on a new host.
    lists = root / "var/lib/apt/lists"
    for entry in lists.iterdir():
        if entry.is_file() and entry.name != "lock":
            entry.unlink()
    subprocess.run(["chroot", str(root), "apt-get", "clean"], check=True)
    (root / "etc/hostname").write_text("localhost\n")  # each copy gets its own name
    sshd = root / "etc/ssh/sshd_config.d/steadydesk-test.conf"
    sshd.write_text("PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n")
    # A cloud host has no console login; keep the test's boot log free of getty noise.
    # (and no first-boot questions: each copy gets its own machine id before it boots).
    for unit in ("console-getty.service", "getty@tty1.service", "systemd-firstboot.service"):
        (root / "etc/systemd/system" / unit).unlink(missing_ok=True)
        (root / "etc/systemd/system" / unit).symlink_to("/dev/null")


class AptProxy:
    """apt-cacher-ng on ``address``:3142, caching in CACHE_DIR/apt (private if busy)."""

    def __init__(self, address: str, work_dir: Path) -> None:
        self.address = address
        self.work_dir = work_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock_fh: object | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{APT_PROXY_PORT}"

    def _cache_dir(self) -> Path:
        shared = CACHE_DIR / "apt"
        shared.mkdir(parents=True, exist_ok=True)
        fh = open(CACHE_DIR / "apt.lock", "a")  # noqa: SIM115 - held while the proxy runs
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()  # another test run owns the shared cache: use a private one
            return self.work_dir / "apt-cache"
        self._lock_fh = fh
        return shared

    def start(self) -> None:
        require_programs("apt-cacher-ng")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        conf_dir = self.work_dir / "acng"
        conf_dir.mkdir(exist_ok=True)
        # Our own configuration: no mirror remapping (the packaged one sends Debian
        # requests to ftp.debian.org), just a cache for whatever URL apt asks for.
        (conf_dir / "acng.conf").write_text(
            f"CacheDir: {self._cache_dir()}\n"
            f"LogDir: {self.work_dir}\n"
            "SupportDir: /usr/lib/apt-cacher-ng\n"
            f"Port: {APT_PROXY_PORT}\n"
            f"BindAddress: {self.address}\n"
            "ExThreshold: 4\n"
        )
        self.proc = subprocess.Popen(
            [
                "/usr/sbin/apt-cacher-ng",
                "-c",
                str(conf_dir),
                "ForeGround=1",
                f"PidFile={self.work_dir / 'acng.pid'}",
                f"SocketPath={self.work_dir / 'acng.socket'}",
            ],
            stdout=open(self.work_dir / "acng.out", "wb"),  # noqa: SIM115 - lives as long as it
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = (self.work_dir / "acng.out").read_text(errors="replace")
                raise RuntimeError(f"apt-cacher-ng exited: {out}")
            with contextlib.suppress(OSError):
                socket.create_connection((self.address, APT_PROXY_PORT), timeout=0.5).close()
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("apt-cacher-ng did not start listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if self._lock_fh is not None:
            self._lock_fh.close()  # type: ignore[attr-defined]
            self._lock_fh = None
