"""Debian's nginx, run by the test from ops/templates/nginx-steadydesk.conf, in front of nodes."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support.services import service_unavailable

TEMPLATE = Path(__file__).resolve().parents[2] / "ops" / "templates" / "nginx-steadydesk.conf"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def render(listen: str, upstreams: list[str], prefix: Path) -> str:
    servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=5s;" for u in upstreams)
    directives = "\n".join(
        [
            "daemon off;",
            "worker_processes 1;",
            f"pid {prefix}/nginx.pid;",
            f"error_log {prefix}/error.log warn;",
        ]
    )
    text = TEMPLATE.read_text()
    text = text.replace("@PREFIX_DIRECTIVES@", directives)
    text = text.replace("@UPSTREAM_SERVERS@", servers).replace("@LISTEN@", listen)
    temp_paths = "\n".join(
        f"    {name}_temp_path {prefix}/{name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return text.replace("http {\n", "http {\n" + temp_paths + "\n", 1)


class Nginx:
    def __init__(self, work_dir: Path, upstreams: list[str]) -> None:
        binary = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
        if binary is None:
            service_unavailable("nginx is not installed (apt-get install nginx-light)")
        self.binary = str(binary)
        self.dir = work_dir
        self.port = _free_port()
        self.upstreams = upstreams
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "nginx.conf"
        conf.write_text(render(f"127.0.0.1:{self.port}", self.upstreams, self.dir))
        self.proc = subprocess.Popen(
            [self.binary, "-p", str(self.dir), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "stderr.log", "wb"),  # noqa: SIM115 - lives as long as nginx
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited: {(self.dir / 'stderr.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("nginx did not start listening")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
