"""Export jobs over the admin API (``/api/v1/export``): asked for, downloaded, audited,
limited to the tenant's admins (and credentials to the platform operator); a client that
goes away mid-download stops the export and fails the job, and the node goes on serving.
The route walk (tests/admin/test_route_access.py) covers every caller on every route."""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.admin.conftest import call
from tests.backups.support import cli_ok, query
from tests.support.clients import cached_login
from tests.support.http import http_client
from tests.support.server import ServerFactory, ServerProcess

MANY_MESSAGES = 30_000


@pytest.fixture(scope="module")
def server(module_server_factory: ServerFactory) -> ServerProcess:
    return module_server_factory({"STEADY_MODE": "SaaS"})


@pytest_asyncio.fixture(scope="module")
async def admin(server: ServerProcess) -> str:
    assert server.demo is not None
    return str((await cached_login(server, server.demo.admin))["token"])


@pytest_asyncio.fixture(scope="module")
async def operator(server: ServerProcess) -> dict[str, str]:
    email, password = f"op-{secrets.token_hex(3)}@platform.example", "operator password 1"
    cli_ok(server.env, "operator", "create", "--email", email, "--password", password)
    resp = await call(server, "POST", "/api/v1/operator/login",
                      body={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    assert server.demo is not None
    return {"authorization": f"Bearer {resp.json()['token']}",
            "X-Steady-Tenant": server.demo.tenant}


async def _job(server: ServerProcess, body: dict[str, Any], *, token: str | None = None,
               headers: dict[str, str] | None = None) -> dict[str, Any]:
    resp = await call(server, "POST", "/api/v1/export", token=token, body=body, headers=headers)
    assert resp.status_code == 202, resp.text
    job: dict[str, Any] = resp.json()
    return job


async def _download(server: ServerProcess, job: dict[str, Any], *, token: str | None = None,
                    headers: dict[str, str] | None = None) -> httpx.Response:
    return await call(server, "GET", job["download"], token=token, headers=headers)


async def test_an_admin_exports_downloads_and_it_is_audited(
    server: ServerProcess, admin: str, tmp_path: Path
) -> None:
    job = await _job(server, {"format": "json"}, token=admin)
    assert job["status"] == "ready" and job["with_credentials"] is False
    resp = await _download(server, job, token=admin)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in resp.headers["content-disposition"]
    lines = resp.content.decode().splitlines()
    assert json.loads(lines[0])["tenant"] == "default" and "end" in json.loads(lines[-1])
    status = (await call(server, "GET", f"/api/v1/export/{job['id']}", token=admin)).json()
    assert status["status"] == "done" and status["size"] == len(resp.content)

    exported = tmp_path / "export.jsonl"
    exported.write_bytes(resp.content)
    env = {**server.env, "STEADY_DATA_DIR": str(tmp_path / "elsewhere")}
    env.pop("STEADY_DATABASE_URL")
    report = cli_ok(env, "import", str(exported), "--json").json()
    assert report["ok"] is True and report["rows"]["agent"] == 3

    actions = query(server.database_url,
                    "SELECT action, target, actor FROM audit_log WHERE target = ?", [job["id"]])
    assert {a for a, _, _ in actions} == {"export.create", "export.download"}
    assert all(actor.startswith("agent:") for _, _, actor in actions)


async def test_csv_downloads_as_a_zip(server: ServerProcess, admin: str) -> None:
    resp = await _download(server, await _job(server, {"format": "csv"}, token=admin),
                           token=admin)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        assert "agent.csv" in zf.namelist() and zf.testzip() is None


async def test_credentials_are_for_the_platform_operator_only(
    server: ServerProcess, admin: str, operator: dict[str, str]
) -> None:
    refused = await call(server, "POST", "/api/v1/export", token=admin,
                         body={"with_credentials": True})
    assert refused.status_code == 403, refused.text
    job = await _job(server, {"with_credentials": True}, headers=operator)
    assert job["requested_by"].startswith("operator:")
    assert (await _download(server, job, token=admin)).status_code == 403
    resp = await _download(server, job, headers=operator)
    assert resp.status_code == 200 and b"$argon2id$" in resp.content


@pytest.mark.parametrize("body", [{"format": "xml"}, {"format": "json", "everything": True},
                                  {"decrypt": "yes"}])
async def test_bad_requests_are_400(server: ServerProcess, admin: str,
                                    body: dict[str, Any]) -> None:
    resp = await call(server, "POST", "/api/v1/export", token=admin, body=body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_request"


async def test_an_expired_job_is_gone(server: ServerProcess, admin: str) -> None:
    job = await _job(server, {}, token=admin)
    query(server.database_url, "UPDATE export_job SET expires_at = ? WHERE id = ?",
          ["2000-01-01 00:00:00", job["id"]])
    status = (await call(server, "GET", f"/api/v1/export/{job['id']}", token=admin)).json()
    assert status["status"] == "expired"
    assert (await _download(server, job, token=admin)).status_code == 404


def _many_messages(server: ServerProcess) -> None:
    """A long conversation, written straight to the database (fast multi-row inserts)."""
    conv = "c" + secrets.token_hex(12)
    now = int(time.time() * 1000)
    assert server.demo is not None
    query(server.database_url,
          "INSERT INTO conversation (id, tenant_id, site_id, visitor_id, status, last_seq, "
          "visitor_read_seq, agent_read_seq, created_at, offer_seq, offers_tried, offline) "
          "VALUES (?, 'default', ?, 'v-many', 'closed', ?, 0, 0, '2026-01-01 00:00:00', 0, '', 0)",
          [conv, server.demo.site_key, MANY_MESSAGES])
    batch = 1000
    for start in range(0, MANY_MESSAGES, batch):
        rows = range(start + 1, start + batch + 1)
        values = ", ".join(["('default', ?, ?, ?, 'text', 'visitor', 'v-many', '', ?, ?, ?)"]
                           * batch)
        params: list[Any] = []
        for seq in rows:
            params += [conv, seq, f"m{conv[:12]}{seq:08d}", f"cid{seq}",
                       f"message number {seq} " + "x" * 100, now]
        query(server.database_url,
              "INSERT INTO message (tenant_id, conversation_id, seq, id, kind, sender_type, "
              f"sender_id, sender_name, cid, body, created_ms) VALUES {values}", params)


async def test_a_client_that_goes_away_stops_the_export(
    server: ServerProcess, admin: str
) -> None:
    _many_messages(server)
    job = await _job(server, {}, token=admin)
    async with (
        http_client(base_url=server.url, timeout=30) as http,
        http.stream("GET", job["download"], headers={"authorization": f"Bearer {admin}"})
        as resp,
    ):
        assert resp.status_code == 200
        async for _ in resp.aiter_bytes():
            break  # one chunk, then hang up
    deadline = time.monotonic() + 20
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = (await call(server, "GET", f"/api/v1/export/{job['id']}", token=admin)).json()
        if status["status"] == "failed":
            break
        await asyncio.sleep(0.1)
    assert status["status"] == "failed" and status["error"], status
    # The node is fine, and the next download is whole.
    again = await _download(server, await _job(server, {}, token=admin), token=admin)
    assert again.status_code == 200
    end = json.loads(again.content.decode().splitlines()[-1])
    assert end["end"]["rows"]["message"] >= MANY_MESSAGES
