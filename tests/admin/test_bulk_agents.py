"""``steadydesk agent create --bulk FILE``: many agents in one process and one transaction,
all or nothing, with line-numbered refusals and an audit row per agent (both backends)."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

from tests.admin.conftest import call
from tests.support.clients import Clients, agent_login
from tests.support.server import REPO_ROOT, DemoTenant, ServerProcess


def _bulk(server: ServerProcess, tenant: str, path: Path | str, *extra: str,
          stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", "agent", "create", "--tenant", tenant,
         "--bulk", str(path), *extra],
        cwd=REPO_ROOT, env=server.env, input=stdin, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


def _cli(server: ServerProcess, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *argv], cwd=REPO_ROOT, env=server.env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def _agents(server: ServerProcess, token: str) -> dict[str, dict[str, object]]:
    listed = await call(server, "GET", "/api/v1/agents", token=token)
    assert listed.status_code == 200, listed.text
    return {a["email"]: a for a in listed.json()["agents"]}


async def test_a_csv_file_creates_every_agent_with_departments_and_audit(
    server: ServerProcess, demo: DemoTenant, admin_token: str, tmp_path: Path
) -> None:
    tag = secrets.token_hex(3)
    dept = await call(server, "POST", "/api/v1/departments", token=admin_token,
                      body={"name": f"Bulk sales {tag}"})
    assert dept.status_code == 201, dept.text
    dept_id, dept_name = dept.json()["id"], dept.json()["name"]
    rows = ["email,name,role,departments,password,capacity"]
    rows += [f"b{i}-{tag}@bulk.example,Bulk {i},,{dept_name},bulk-pass-{i},7" for i in range(40)]
    rows += [f"Boss-{tag}@Bulk.example,Boss,admin,{dept_id};{dept_name},,"]  # generated
    path = tmp_path / "agents.csv"
    path.write_text("\n".join(rows) + "\n")

    started = time.monotonic()
    done = _bulk(server, demo.tenant, path)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["line"] for o in out] == list(range(2, 43))
    assert all("generated_password" not in o for o in out[:40])
    boss = out[40]
    assert boss["email"] == f"boss-{tag}@bulk.example" and boss["role"] == "admin"
    assert boss["departments"] == [dept_id] and len(boss["generated_password"]) >= 12
    # 41 argon2 hashes in one process: far from 41 CLI start-ups (about 1 s each).
    assert took < 60, took

    listed = await _agents(server, admin_token)
    for i in (0, 39):
        agent = listed[f"b{i}-{tag}@bulk.example"]
        assert agent["capacity"] == 7 and agent["departments"] == [dept_id]
        assert agent["name"] == f"Bulk {i}" and agent["role"] == "agent"
    login = await agent_login(server, f"b39-{tag}@bulk.example", "bulk-pass-39")
    assert login.status_code == 200, login.text
    login = await agent_login(server, boss["email"], boss["generated_password"])
    assert login.status_code == 200 and login.json()["agent"]["role"] == "admin"

    audit = await call(server, "GET", f"/api/v1/audit?target={boss['id']}", token=admin_token)
    (entry,) = audit.json()["entries"]
    assert entry["actor"] == "system:cli" and entry["action"] == "agent.create"
    assert boss["generated_password"] not in audit.text and "bulk-pass" not in audit.text
    everyone = await call(server, "GET", "/api/v1/audit?action=agent.create&limit=500",
                          token=admin_token)
    targets = {e["target"] for e in everyone.json()["entries"]}
    assert {o["id"] for o in out} <= targets


async def test_one_bad_row_refuses_the_whole_file_with_line_numbers(
    server: ServerProcess, demo: DemoTenant, other: DemoTenant, admin_token: str,
    other_admin_token: str, tmp_path: Path,
) -> None:
    tag = secrets.token_hex(3)
    theirs = await call(server, "POST", "/api/v1/departments", token=other_admin_token,
                        body={"name": f"Theirs {tag}"})
    assert theirs.status_code == 201, theirs.text
    good = json.dumps({"email": f"ok-{tag}@bulk.example", "password": "long enough 1"})
    lines = [
        good,
        "",
        json.dumps({"email": f"short-{tag}@bulk.example", "password": "short"}),
        json.dumps({"email": "not-an-address", "password": "long enough 1"}),
        json.dumps({"email": f"boss-{tag}@bulk.example", "role": "owner"}),
        json.dumps({"email": f"OK-{tag}@bulk.example"}),
        json.dumps({"email": f"x-{tag}@bulk.example", "favourite": "\x1b[31mred"}),
    ]
    path = tmp_path / "agents.jsonl"
    path.write_text("\n".join(lines) + "\n")
    done = _bulk(server, demo.tenant, path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    message = done.stderr.strip()
    assert "\n" not in message and "\x1b" not in message, message
    assert "nothing created, 5 bad rows" in message, message
    for expected in ("line 3: password", "line 4: email", "line 5: role",
                     "line 6: ", "is also on line 1", "line 7: unknown fields"):
        assert expected in message, (expected, message)
    assert f"ok-{tag}@bulk.example" not in await _agents(server, admin_token)

    # Another tenant's department is unknown here, even by its id: nothing is created.
    path.write_text(good + "\n" + json.dumps({
        "email": f"y-{tag}@bulk.example", "departments": [theirs.json()["id"]]}) + "\n")
    done = _bulk(server, demo.tenant, path)
    assert done.returncode == 1 and "line 2: unknown departments" in done.stderr, done.stderr
    assert f"ok-{tag}@bulk.example" not in await _agents(server, admin_token)

    # An address taken already refuses the file too, naming its line.
    path.write_text(good + "\n" + json.dumps({"email": demo.agents[0].email}) + "\n")
    done = _bulk(server, demo.tenant, path)
    assert done.returncode == 1 and "line 2: an agent" in done.stderr, done.stderr
    assert f"ok-{tag}@bulk.example" not in await _agents(server, admin_token)

    # Standard input works, and the agents land in the tenant named, not another.
    done = _bulk(server, other.tenant, "-", stdin=good + "\n")
    assert done.returncode == 0, done.stderr
    assert f"ok-{tag}@bulk.example" in await _agents(server, other_admin_token)
    assert f"ok-{tag}@bulk.example" not in await _agents(server, admin_token)


async def test_agents_without_passwords_get_tokens_and_no_password_logs_in(
    server: ServerProcess, demo: DemoTenant, clients: Clients, tmp_path: Path
) -> None:
    """``--no-password --issue-tokens`` (what the benchmark's 500 agents use): no argon2
    hash is made, each agent gets a working token, and no password opens the account."""
    tag = secrets.token_hex(3)
    lines = "".join(json.dumps({"email": f"np{i}-{tag}@bulk.example"}) + "\n"
                    for i in range(200))
    started = time.monotonic()
    done = _bulk(server, demo.tenant, "-", "--no-password", "--issue-tokens", stdin=lines)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(out) == 200 and all("generated_password" not in o for o in out)
    assert all(o["token"] and o["token_expires_at"] > time.time() for o in out)
    # 200 argon2 hashes are ~7 s of CPU on this machine; without them this is the CLI's
    # start-up and one transaction.
    assert took < 30, took

    agent = await clients.agent(server, login_data={"token": out[-1]["token"]})
    assert agent.welcome is not None and agent.welcome["you"]["id"] == out[-1]["id"]
    for password in ("", "!", "bulk-pass-0", out[0]["token"]):
        login = await agent_login(server, out[0]["email"], password)
        assert login.status_code in (400, 401), (password, login.status_code, login.text)

    # A row that gives a password while the agents get none is refused, naming its line.
    rows = json.dumps({"email": f"x-{tag}@bulk.example"}) + "\n" + json.dumps(
        {"email": f"y-{tag}@bulk.example", "password": "long enough 1"}) + "\n"
    done = _bulk(server, demo.tenant, "-", "--no-password", stdin=rows)
    assert done.returncode == 1 and "line 2: a password" in done.stderr, done.stderr
    # And the flags belong to --bulk.
    single = _cli(server, "agent", "create", "--tenant", demo.tenant, "--email",
                  f"z-{tag}@bulk.example", "--password", "long enough 1", "--no-password")
    assert single.returncode != 0 and "--bulk" in single.stderr, single.stderr
