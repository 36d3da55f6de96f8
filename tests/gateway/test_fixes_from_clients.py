"""Regressions reported by the widget and console work, each failing before its fix."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.clients import Clients, new_cid
from tests.support.http import http_client
from tests.support.server import ServerProcess


async def test_resend_into_a_conversation_closed_since_gets_the_original_ack(
    server: ServerProcess, clients: Clients
) -> None:
    visitor = await clients.visitor(server, label="visitor")
    cid = new_cid()
    first = await visitor.send_and_ack("before the close", cid=cid)
    conv = first["conv"]
    await visitor.send_json({"type": "close", "conv": conv})
    await visitor.recv_event("conv.closed", conv, 10)
    again = await visitor.send_and_ack("before the close", conv=conv, cid=cid)
    assert (again["id"], again["seq"], again["conv"]) == (first["id"], first["seq"], conv)
    history = await visitor.history(conv)
    assert [m["cid"] for m in history].count(cid) == 1


async def test_session_endpoint_answers_cors_for_the_widget(server: ServerProcess) -> None:
    assert server.demo is not None
    origin = server.demo.origin
    async with http_client(base_url=server.url, timeout=10) as http:
        preflight = await http.options(
            "/api/v1/visitor/session",
            headers={"origin": origin, "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == origin
        assert "POST" in preflight.headers["access-control-allow-methods"]
        refused = await http.post(
            "/api/v1/visitor/session",
            json={"site_key": server.demo.site_key},
            headers={"origin": "https://evil.example"},
        )
        # Readable by the page (so the widget can stop), and still refused.
        assert refused.status_code == 403
        assert refused.headers["access-control-allow-origin"] == "https://evil.example"
        assert refused.json()["error"]["code"] == "origin_not_allowed"


def test_port_flag_wins_over_the_environment(tmp_path: Path) -> None:
    def free() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    flag_port, env_port = free(), free()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    env.update({"STEADY_DATA_DIR": str(tmp_path), "STEADY_PORT": str(env_port)})
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(flag_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{flag_port}/api/healthz", timeout=1).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not listen on the --port it was given")
    finally:
        proc.terminate()
        proc.wait(20)
