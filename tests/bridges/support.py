"""A bridge as a subprocess (``python -m bots slack|telegram``) for end-to-end tests, and
helpers to wait on what the local Slack or Telegram shows. Started and stopped by pid."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.slack import FakeSlack
from tests.support.http import http_client
from tests.support.server import REPO_ROOT, free_port

READY_TIMEOUT_SECS = 20.0
CHANNEL = "C0SUPPORT"


class BridgeSubprocess:
    """``python -m bots <kind>`` with the given settings, its own port and state file."""

    kind = ""

    def __init__(
        self, data_dir: Path, server_url: str, token: str, platform_env: Mapping[str, str]
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log_path = self.data_dir / "bridge.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("STEADY_", "SLACK_", "TELEGRAM_"))
            },
            "PYTHONUNBUFFERED": "1",
            "STEADY_BRIDGE_SERVER": server_url,
            "STEADY_BRIDGE_TOKEN": token,
            "STEADY_BRIDGE_PORT": str(self.port),
            "STEADY_BRIDGE_STATE": str(self.data_dir / f"bridge-{self.kind}.sqlite3"),
            "STEADY_BRIDGE_BREAKER_RESET_SECS": "2",
            "STEADY_BRIDGE_BACKOFF_CAP_SECS": "2",
            **dict(platform_env),
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bots", self.kind],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def astart(self, wait_secs: float = READY_TIMEOUT_SECS) -> None:
        self.start()
        await self.wait_healthy(wait_secs)

    async def health(self) -> tuple[int, dict[str, Any]]:
        async with http_client(timeout=5) as client:
            resp = await client.get(self.url + "/healthz")
            return resp.status_code, resp.json()

    async def wait_healthy(self, wait_secs: float = READY_TIMEOUT_SECS) -> dict[str, Any]:
        deadline = time.monotonic() + wait_secs
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"bridge exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status, body = await self.health()
                last = body
                if status == 200:
                    return body
            except httpx.HTTPError as exc:
                last = exc
            await asyncio.sleep(0.1)
        raise AssertionError(f"bridge not healthy in {wait_secs}s: {last}\n{self.log_tail()}")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class BridgeProcess(BridgeSubprocess):
    """The Slack bridge against a local Slack."""

    kind = "slack"

    def __init__(
        self,
        data_dir: Path,
        server_url: str,
        token: str,
        slack: FakeSlack,
        *,
        env: Mapping[str, str] | None = None,
        socket_mode: bool = False,
    ) -> None:
        super().__init__(
            data_dir,
            server_url,
            token,
            {
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_SIGNING_SECRET": slack.signing_secret,
                "SLACK_API_URL": slack.api_url,
                "SLACK_CHANNEL": CHANNEL,
                **({"SLACK_APP_TOKEN": slack.app_token} if socket_mode else {}),
                **dict(env or {}),
            },
        )

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"


async def eventually(
    check: Callable[[], Any], *, within: float = 15.0, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns something truthy (generous for a loaded machine)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)
