"""Departments, settings and API keys over the admin API, with their denials."""

from __future__ import annotations

import json
import secrets

from tests.admin.conftest import call, code, signed_headers
from tests.support.server import DemoTenant, ServerProcess


async def test_departments_create_rename_delete_detaches(
    server: ServerProcess, admin_token: str, agent_token: str, other_admin_token: str
) -> None:
    name = f"Support {secrets.token_hex(3)}"
    created = await call(server, "POST", "/api/v1/departments", token=admin_token,
                         body={"name": name})
    assert created.status_code == 201
    dept = created.json()["id"]
    dup = await call(server, "POST", "/api/v1/departments", token=admin_token, body={"name": name})
    assert dup.status_code == 409 and code(dup) == "already_exists"
    member = await call(server, "POST", "/api/v1/agents", token=admin_token, body={
        "email": f"d-{secrets.token_hex(4)}@example.com", "password": "long enough 1",
        "departments": [dept]})
    assert member.status_code == 201

    assert (await call(server, "POST", "/api/v1/departments", token=agent_token,
                       body={"name": "x"})).status_code == 403
    for method, body in (("PATCH", {"name": "stolen"}), ("DELETE", None)):
        resp = await call(server, method, f"/api/v1/departments/{dept}",
                          token=other_admin_token, body=body)
        assert resp.status_code == 404, resp.text
    agents_view = await call(server, "GET", "/api/v1/departments", token=agent_token)
    assert name in {d["name"] for d in agents_view.json()["departments"]}

    renamed = await call(server, "PATCH", f"/api/v1/departments/{dept}", token=admin_token,
                         body={"name": name + " (renamed)"})
    assert renamed.status_code == 200 and renamed.json()["name"] == name + " (renamed)"
    deleted = await call(server, "DELETE", f"/api/v1/departments/{dept}", token=admin_token)
    assert deleted.status_code == 200 and deleted.json()["detached"]["agents"] == 1
    agent = await call(server, "GET", f"/api/v1/agents/{member.json()['id']}", token=admin_token)
    assert agent.json()["departments"] == []
    again = await call(server, "DELETE", f"/api/v1/departments/{dept}", token=admin_token)
    assert again.status_code == 404


async def test_settings_validate_merge_and_stay_private(
    server: ServerProcess, admin_token: str, agent_token: str, other_admin_token: str
) -> None:
    initial = await call(server, "GET", "/api/v1/settings", token=admin_token)
    assert initial.status_code == 200
    assert initial.json()["masking"] == {"cards": False, "emails": False}
    put = await call(server, "PUT", "/api/v1/settings", token=admin_token,
                     body={"masking": {"cards": True}, "limits": {"body_max_chars": 500}})
    assert put.status_code == 200, put.text
    assert put.json()["masking"] == {"cards": True, "emails": False}
    assert put.json()["limits"]["body_max_chars"] == 500
    merged = await call(server, "PUT", "/api/v1/settings", token=admin_token,
                        body={"masking": {"emails": True}})
    assert merged.json()["masking"] == {"cards": True, "emails": True}
    assert merged.json()["limits"]["body_max_chars"] == 500

    for bad in ({"colour": "red"}, {"masking": {"phones": True}}, {"masking": {"cards": "maybe"}},
                {"limits": {"body_max_chars": 0}}, {"masking": True}, ["masking"]):
        resp = await call(server, "PUT", "/api/v1/settings", token=admin_token, body=bad)
        assert resp.status_code == 400, (bad, resp.text)
    assert (await call(server, "GET", "/api/v1/settings",
                       token=admin_token)).json() == merged.json()

    assert (await call(server, "GET", "/api/v1/settings", token=agent_token)).status_code == 403
    assert (await call(server, "PUT", "/api/v1/settings", token=agent_token,
                       body={"masking": {"cards": False}})).status_code == 403
    theirs = await call(server, "GET", "/api/v1/settings", token=other_admin_token)
    assert theirs.json()["masking"] == {"cards": False, "emails": False}
    audit = await call(server, "GET", "/api/v1/audit?action=settings.update", token=admin_token)
    assert audit.json()["entries"][0]["changes"] == {"masking": {"emails": True}}


async def test_api_keys_secret_once_and_revocation_is_immediate(
    server: ServerProcess, demo: DemoTenant, admin_token: str, agent_token: str,
    other_admin_token: str,
) -> None:
    created = await call(server, "POST", "/api/v1/api-keys", token=admin_token,
                         body={"name": "backend"})
    assert created.status_code == 201
    key, secret = created.json()["id"], created.json()["secret"]
    listed = await call(server, "GET", "/api/v1/api-keys", token=admin_token)
    assert key in {k["id"] for k in listed.json()["api_keys"]}
    assert secret not in listed.text and demo.api_secret not in listed.text

    path = "/api/v1/sites"
    signed = await call(server, "GET", path, headers=signed_headers(key, secret, "GET", path))
    assert signed.status_code == 200
    body = json.dumps({"name": "Made by key"}).encode()
    made = await call(server, "POST", "/api/v1/departments", raw=body,
                      headers={**signed_headers(key, secret, "POST", "/api/v1/departments",
                                                body), "content-type": "application/json"})
    assert made.status_code == 201, made.text
    audit = await call(server, "GET", f"/api/v1/audit?actor=apikey:{key}", token=admin_token)
    assert audit.json()["entries"][0]["action"] == "department.create"

    assert (await call(server, "DELETE", f"/api/v1/api-keys/{key}",
                       token=agent_token)).status_code == 403
    assert (await call(server, "DELETE", f"/api/v1/api-keys/{key}",
                       token=other_admin_token)).status_code == 404
    revoked = await call(server, "DELETE", f"/api/v1/api-keys/{key}", token=admin_token)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = await call(server, "GET", path, headers=signed_headers(key, secret, "GET", path))
    assert refused.status_code == 401

    agent_key = await call(server, "POST", "/api/v1/api-keys", token=admin_token,
                           body={"name": "reader", "role": "agent"})
    low_key, low_secret = agent_key.json()["id"], agent_key.json()["secret"]
    low = await call(server, "GET", path, headers=signed_headers(low_key, low_secret, "GET", path))
    assert low.status_code == 403

