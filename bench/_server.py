"""Start a throw-away Steadydesk node for a benchmark, and read process CPU from /proc.

The node is driven only through its command line and environment (PROTOCOL.md §5):
`python -m server serve`, `python -m server demo --json`, `GET /api/healthz`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _client import Account, Demo, ProtocolError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MYSQL_URL = os.environ.get("STEADY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
HEALTH_TIMEOUT_SECS = 60.0
STOP_TIMEOUT_SECS = 15.0
# The bench measures the message path, not the abuse limits: lift them far out of reach.
BENCH_ENV = {
    "STEADY_WS_RATE_VISITOR": "100000000",
    "STEADY_WS_RATE_AGENT": "100000000",
    "STEADY_CONN_RATE_IP": "100000000",
    "STEADY_NODE": "bench",
}
AGENT_CAPACITY = 1000  # conversations per bench agent: never the limit
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- CPU


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after the last ')'.
    head, comm_end = raw.index(" "), raw.rindex(")")
    return [raw[:head], raw[raw.index("(") + 1 : comm_end], *raw[comm_end + 2 :].split()]


def _all_stats() -> dict[int, list[str]]:
    stats: dict[int, list[str]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                stats[int(entry.name)] = fields
    return stats


def tree_cpu_secs(root: int) -> float:
    """utime+stime of `root` and all its live descendants (Sanic may fork workers)."""
    stats = _all_stats()
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[3]), []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        stat = stats.get(pid)
        if stat is None:
            continue
        total += int(stat[13]) + int(stat[14])  # utime, stime in clock ticks
        todo.extend(children.get(pid, ()))
    return total / CLK_TCK


def find_pid(*names: str) -> int | None:
    """The oldest process whose command name is one of `names` (e.g. mariadbd)."""
    found = sorted(pid for pid, f in _all_stats().items() if f[1] in names)
    return found[0] if found else None


def _py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")  # the virtualenv's, when not activated
    return str(beside) if beside.exists() else shutil.which("py-spy") or "py-spy"


@dataclass
class CpuMeter:
    server_pid: int | None
    db_pid: int | None
    # With a path, py-spy records the server over each measured phase (`--py-spy`):
    # collapsed stacks of the thread holding the GIL, so setup never dilutes them.
    profile_to: Path | None = None
    _profiler: subprocess.Popen[bytes] | None = None
    _phases: int = 0

    def sample(self) -> tuple[float | None, float | None, float]:
        server = tree_cpu_secs(self.server_pid) if self.server_pid else None
        db = tree_cpu_secs(self.db_pid) if self.db_pid else None
        return server, db, time.process_time()

    def start_profile(self) -> None:
        if self.profile_to is None or not self.server_pid:
            return
        self._phases += 1
        out = self.profile_to.with_name(
            f"{self.profile_to.stem}-{self._phases}{self.profile_to.suffix}"
        )
        self._profiler = subprocess.Popen(
            [
                _py_spy(),
                "record",
                "--gil",
                "--rate",
                "97",
                "--format",
                "raw",
                "--pid",
                str(self.server_pid),
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.3)  # py-spy attaches before the phase starts

    def stop_profile(self) -> None:
        if self._profiler is not None:
            self._profiler.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
            self._profiler.wait(30)
            self._profiler = None


# --------------------------------------------------------------------------- spawning


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None, log: Path | None) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECS
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ProtocolError(f"server exited with {proc.returncode} before healthy\n{tail(log)}")
        try:
            with urllib.request.urlopen(url + "/api/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code} {exc.read()[:200]!r}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise ProtocolError(
        f"/api/healthz not 200 within {HEALTH_TIMEOUT_SECS:g} s: {last}\n{tail(log)}"
    )


def tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()
    return "--- server log (tail) ---\n" + "\n".join(text[-lines:])


def run_demo(env: dict[str, str]) -> Demo:
    """`python -m server demo --json` with the server's environment."""
    proc = subprocess.run(
        [sys.executable, "-m", "server", "demo", "--json"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise ProtocolError(f"demo --json exited {proc.returncode}: {proc.stderr[-1500:]}")
    return Demo.parse(proc.stdout)


def create_agents(env: dict[str, str], tenant: str, count: int) -> tuple[list[Account], str]:
    """One agent per pair, all in one `steadydesk agent create --bulk - --no-password
    --issue-tokens` (the server's CLI; not part of PROTOCOL §5, so a failure only means
    the bench falls back to shared agents). The agents get no password and the CLI prints
    a token for each: no argon2 hash to make and none to check per agent (issue #17
    item 4: 500 hashes and 500 logins were most of a 500-agent setup)."""
    tag = secrets.token_hex(3)
    emails = [f"bench-{tag}-{i}@bench.example" for i in range(count)]
    lines = "".join(
        json.dumps({"email": email, "name": f"bench {i}"}) + "\n" for i, email in enumerate(emails)
    )
    cmd = ["agent", "create", "--tenant", tenant, "--bulk", "-", "--no-password", "--issue-tokens"]
    proc = subprocess.run(
        [sys.executable, "-m", "server", *cmd, "--capacity", str(AGENT_CAPACITY)],
        cwd=REPO_ROOT,
        env=env,
        input=lines,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        return [], f"agent create --bulk exited {proc.returncode}: {proc.stderr[-300:]}"
    made = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    tokens = {row["email"]: row.get("token") for row in made}
    if any(not tokens.get(email) for email in emails):
        return [], "agent create --bulk --issue-tokens printed no token for some agents"
    return [Account(email, "", tokens[email]) for email in emails], ""


def _mysql_connect(url: str, database: str | None = None) -> Any:
    import pymysql  # only needed for --spawn mysql

    parts = urlsplit(url)
    return pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=database,
        autocommit=True,
    )


@dataclass
class SpawnedServer:
    """A node on a free loopback port with its own data dir (and MariaDB database)."""

    backend: str  # "sqlite" | "mysql"
    mysql_url: str = DEFAULT_MYSQL_URL
    redis_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    pid: int = 0
    env: dict[str, str] = field(default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = None
    _tmp: Path | None = None
    _db_name: str | None = None
    _log: Path | None = None
    agents_s: float | None = None  # creating the extra agents (the CLI), seconds

    def database_url(self) -> str:
        assert self._tmp is not None
        if self.backend == "sqlite":
            return f"sqlite:///{self._tmp}/steadydesk.db"
        self._db_name = f"steadybench_{secrets.token_hex(4)}"
        with contextlib.closing(_mysql_connect(self.mysql_url)) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{self._db_name}` CHARACTER SET utf8mb4")
        return self.mysql_url.rstrip("/") + "/" + self._db_name

    def start(self, agents: int = 0) -> tuple[Demo, list[Account], str]:
        """Demo data and `agents` extra agent accounts first (CLI), then `serve`.

        Returns the demo, the agent accounts (empty if they could not be made) and why not.
        """
        try:
            self._tmp = Path(tempfile.mkdtemp(prefix="steadybench-"))
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
            env.update(BENCH_ENV)
            env["STEADY_DATA_DIR"] = str(self._tmp)
            env["STEADY_DATABASE_URL"] = self.database_url()
            if self.redis_url:
                env["STEADY_REDIS_URL"] = self.redis_url
            env.update(self.extra_env)
            self.env = env
            demo = run_demo(env)
            started = time.perf_counter()
            accounts, why = create_agents(env, demo.tenant, agents) if agents else ([], "")
            self.agents_s = round(time.perf_counter() - started, 2) if agents else None
            self._log = self._tmp / "server.log"
            serve = [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1"]
            with self._log.open("wb") as log:
                self._proc = subprocess.Popen(
                    [*serve, "--port", str(port)],
                    cwd=REPO_ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: stop() reaches workers
                )
            self.pid = self._proc.pid
            wait_healthy(self.url, self._proc, self._log)
            return demo, accounts, why
        except BaseException:
            self.stop()
            raise

    def log_tail(self, lines: int = 30) -> str:
        return tail(self._log, lines)

    def stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_SECS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # the group we created for it
                proc.wait(5)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # stray workers of the group we created
        self._proc = None
        if self._db_name:
            with contextlib.closing(_mysql_connect(self.mysql_url)) as conn, conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{self._db_name}`")
            self._db_name = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
