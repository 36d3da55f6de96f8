"""The audit log and the login log: own tenant only, newest first, filters and paging."""

from __future__ import annotations

import secrets
import time

from tests.admin.conftest import call
from tests.support.clients import agent_login
from tests.support.server import DemoTenant, ServerProcess


async def test_login_log_lists_attempts_with_filters_and_paging(
    server: ServerProcess, demo: DemoTenant, admin_token: str, agent_token: str,
    other_admin_token: str,
) -> None:
    who = f"ghost-{secrets.token_hex(4)}@example.com"
    for _ in range(3):
        failed = await agent_login(server, who, "wrong password",
                                   headers={"user-agent": "log-test/1"})
        assert failed.status_code == 401
    base = f"/api/v1/login-log?username={who}"
    page = await call(server, "GET", base, token=admin_token)
    assert page.status_code == 200
    entries = page.json()["entries"]
    assert len(entries) == 3 and page.json()["next_before"] is None
    assert all(e["success"] is False and e["user_agent"] == "log-test/1" for e in entries)
    assert entries[0]["ip"] == "127.0.0.1" and entries[0]["created_at"].endswith("Z")
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)

    first = await call(server, "GET", base + "&limit=2", token=admin_token)
    assert len(first.json()["entries"]) == 2 and first.json()["next_before"]
    rest = await call(server, "GET", base + f"&limit=2&before={first.json()['next_before']}",
                      token=admin_token)
    assert [e["id"] for e in first.json()["entries"] + rest.json()["entries"]] == [
        e["id"] for e in entries]
    assert rest.json()["next_before"] is None

    assert (await call(server, "GET", base + "&success=true", token=admin_token)).json()[
        "entries"] == []
    future = int(time.time()) + 3600
    assert (await call(server, "GET", base + f"&since={future}", token=admin_token)).json()[
        "entries"] == []
    assert len((await call(server, "GET", base + "&until=2999-01-01T00:00:00Z&ip=127.0.0.1",
                           token=admin_token)).json()["entries"]) == 3
    ok = await call(server, "GET", f"/api/v1/login-log?username={demo.admin.email}&success=true",
                    token=admin_token)
    assert ok.json()["entries"] and ok.json()["entries"][0]["success"] is True

    for query in ("?limit=0", "?limit=abc", "?since=yesterday", "?success=maybe"):
        resp = await call(server, "GET", "/api/v1/login-log" + query, token=admin_token)
        assert resp.status_code == 400, query
    assert (await call(server, "GET", base, token=agent_token)).status_code == 403
    assert (await call(server, "GET", base)).status_code == 401
    theirs = await call(server, "GET", base, token=other_admin_token)
    assert theirs.status_code == 200 and theirs.json()["entries"] == []


async def test_audit_log_records_writes_and_filters(
    server: ServerProcess, demo: DemoTenant, admin_token: str, agent_token: str,
    other_admin_token: str,
) -> None:
    me = (await call(server, "GET", "/api/v1/me", token=admin_token)).json()["id"]
    name = f"Audit {secrets.token_hex(3)}"
    dept = (await call(server, "POST", "/api/v1/departments", token=admin_token,
                       body={"name": name})).json()["id"]
    await call(server, "PATCH", f"/api/v1/departments/{dept}", token=admin_token,
               body={"name": name + "!"})

    mine = await call(server, "GET", f"/api/v1/audit?target={dept}", token=admin_token)
    entries = mine.json()["entries"]
    assert [e["action"] for e in entries] == ["department.rename", "department.create"]
    assert entries[0]["actor"] == f"agent:{me}" and entries[0]["ip"] == "127.0.0.1"
    assert entries[0]["changes"] == {"name": [name, name + "!"]}
    assert entries[1]["changes"] == {"name": name}

    prefixed = await call(server, "GET", f"/api/v1/audit?action=department.&actor=agent:{me}",
                          token=admin_token)
    assert all(e["action"].startswith("department.") for e in prefixed.json()["entries"])
    assert dept in {e["target"] for e in prefixed.json()["entries"]}
    paged = await call(server, "GET", "/api/v1/audit?limit=1", token=admin_token)
    assert len(paged.json()["entries"]) == 1 and paged.json()["next_before"]
    none = await call(server, "GET", f"/api/v1/audit?target={dept}&since=2999-01-01",
                      token=admin_token)
    assert none.json()["entries"] == []

    assert (await call(server, "GET", "/api/v1/audit", token=agent_token)).status_code == 403
    theirs = await call(server, "GET", f"/api/v1/audit?target={dept}", token=other_admin_token)
    assert theirs.status_code == 200 and theirs.json()["entries"] == []
    assert dept not in (await call(server, "GET", "/api/v1/audit?limit=500",
                                   token=other_admin_token)).text
