"""The real Steadydesk server as a subprocess, for tests that talk to it over sockets.

``ServerProcess`` runs ``python -m server demo --json`` and then
``python -m server serve --host 127.0.0.1 --port P`` with a private data directory,
database and environment, waits for ``GET /api/healthz`` to answer 200, and always
cleans up what it started, by process id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECS = 20.0
STOP_TIMEOUT_SECS = 15.0
DEMO_TIMEOUT_SECS = 60.0


class ServerError(AssertionError):
    """The server could not be started, seeded or stopped as the contract says."""


@dataclass(frozen=True)
class Account:
    email: str
    password: str


@dataclass(frozen=True)
class DemoTenant:
    """What ``steadydesk demo --json`` prints (PROTOCOL §5)."""

    tenant: str
    site_key: str
    site_secret: str
    origin: str
    admin: Account
    agents: tuple[Account, ...]
    api_key: str
    api_secret: str
    raw: Mapping[str, Any]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DemoTenant:
        keys = ("tenant", "site_key", "site_secret", "origin", "admin", "agents", "api_key",
                "api_secret")
        missing = [k for k in keys if k not in data]
        if missing:
            raise ServerError(f"demo --json output lacks {missing}: {dict(data)!r}")
        agents = tuple(Account(a["email"], a["password"]) for a in data["agents"])
        if len(agents) < 2:
            raise ServerError(f"demo --json must create two agents, got {data['agents']!r}")
        return cls(
            tenant=data["tenant"],
            site_key=data["site_key"],
            site_secret=data["site_secret"],
            origin=data["origin"],
            admin=Account(data["admin"]["email"], data["admin"]["password"]),
            agents=agents,
            api_key=data["api_key"],
            api_secret=data["api_secret"],
            raw=data,
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _base_env() -> dict[str, str]:
    """The caller's environment without any STEADY_* setting that could leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                  "all_proxy"):
        env.pop(proxy, None)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    return env


class ServerProcess:
    """One Steadydesk node on 127.0.0.1, with its own data dir and database."""

    running: ClassVar[list[ServerProcess]] = []  # for failure reports and last-resort cleanup

    def __init__(
        self,
        data_dir: Path,
        database_url: str,
        *,
        env: Mapping[str, str] | None = None,
        redis_url: str | None = None,
        port: int | None = None,
        name: str = "server",
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url
        self.redis_url = redis_url
        self.port = port or free_port()
        self.name = name
        self.log_path = self.data_dir / f"{name}.log"
        self.node_name = f"steadytest-{self.port}"
        self.extra_env = dict(env or {})
        self.demo: DemoTenant | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # ------------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def node_names(self) -> set[str]:
        """The names a ``welcome`` may carry (several for a cluster, see cluster.py)."""
        return {self.node_name}

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def env(self) -> dict[str, str]:
        env = _base_env()
        env["STEADY_DATA_DIR"] = str(self.data_dir)
        env["STEADY_DATABASE_URL"] = self.database_url
        env["STEADY_NODE"] = self.node_name
        if self.redis_url:
            env["STEADY_REDIS_URL"] = self.redis_url
        env.update(self.extra_env)
        return env

    # ------------------------------------------------------------------ demo data

    def run_demo(self, tenant: str | None = None) -> DemoTenant:
        """``python -m server demo --json [--tenant T]`` with this server's environment."""
        cmd = [sys.executable, "-m", "server", "demo", "--json"]
        if tenant is not None:
            cmd += ["--tenant", tenant]
        try:
            done = subprocess.run(
                cmd, cwd=REPO_ROOT, env=self.env, capture_output=True,
                timeout=DEMO_TIMEOUT_SECS, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServerError(f"{' '.join(cmd[1:])} did not finish in {exc.timeout}s") from exc
        out = done.stdout.decode(errors="replace")
        err = done.stderr.decode(errors="replace")
        if done.returncode != 0:
            raise ServerError(
                f"`{' '.join(cmd[1:])}` exited {done.returncode}\n"
                f"--- stdout ---\n{out[-3000:]}\n--- stderr ---\n{err[-6000:]}"
            )
        try:
            data = json.loads(out)
        except ValueError as exc:
            raise ServerError(
                f"`{' '.join(cmd[1:])}` must print exactly one JSON object on stdout, got:\n"
                f"{out[-3000:]}\n--- stderr ---\n{err[-3000:]}"
            ) from exc
        return DemoTenant.from_json(data)

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = READY_TIMEOUT_SECS) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise ServerError("server already running")
        if self.demo is None:
            self.demo = self.run_demo()
        self.starts += 1
        cmd = [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1",
               "--port", str(self.port)]
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(cmd[1:])} =====\n".encode())
            log.flush()
            # A session of its own: kill9() must take down any worker process too.
            self.proc = subprocess.Popen(
                cmd, cwd=REPO_ROOT, env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        ServerProcess.running.append(self)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self._kill_group(signal.SIGKILL)
            self._reap(5)
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise ServerError(
                        f"server exited with {self.proc.returncode} before it was ready\n"
                        f"{self.log_tail()}"
                    )
                try:
                    resp = client.get(f"{self.url}/api/healthz")
                    if resp.status_code == 200:
                        return
                    last = f"HTTP {resp.status_code}: {resp.text[:300]}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                time.sleep(0.1)
        raise ServerError(
            f"GET /api/healthz not 200 within {timeout}s (last: {last})\n{self.log_tail()}"
        )

    def terminate(self) -> None:
        """Send SIGTERM to the server's main process and return at once."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int | None:
        """Wait for the main process to exit; its exit code, or None if still running."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = STOP_TIMEOUT_SECS) -> int | None:
        """SIGTERM, wait; SIGKILL whatever is left. Returns the main process's exit code."""
        if self.proc is None:
            return None
        self.terminate()
        code = self.wait(timeout)
        self._kill_group(signal.SIGKILL)
        self._reap(5)
        return code

    def kill9(self) -> None:
        """kill -9 the node (main process and any workers), as a crash would."""
        self._kill_group(signal.SIGKILL)
        self._reap(5)

    def restart(self, timeout: float = READY_TIMEOUT_SECS) -> None:
        """Start again on the same port with the same data dir, database and environment."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        self.start(timeout)

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)

    async def astop(self) -> int | None:
        return await asyncio.to_thread(self.stop)

    async def arestart(self) -> None:
        await asyncio.to_thread(self.restart)

    async def akill9(self) -> None:
        await asyncio.to_thread(self.kill9)

    def _kill_group(self, sig: signal.Signals) -> None:
        if self.proc is None:
            return
        # The group id is the pid of the process we started (start_new_session=True).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def _reap(self, timeout: float) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # workers re-parented elsewhere may linger
            try:
                os.killpg(self.proc.pid, 0)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(0.05)
        if self in ServerProcess.running:
            ServerProcess.running.remove(self)

    # ------------------------------------------------------------------ diagnostics

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- last {lines} lines of {self.log_path} ---\n{tail}"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __repr__(self) -> str:
        return f"<ServerProcess {self.name} {self.url} pid={self.pid}>"


ServerFactory = Callable[..., ServerProcess]
