"""Admin management of sites: secrets shown only on create/rotate, rotation takes effect at
once, updates reach the session endpoint, and every denial."""

from __future__ import annotations

import time
from typing import Any

from tests.admin.conftest import call, code
from tests.support.clients import Clients, timed_user_hash, user_hash, visitor_session
from tests.support.server import DemoTenant, ServerProcess


async def _create_site(server: ServerProcess, token: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "Shop", "allowed_origins": ["https://shop.example.com"], **fields}
    resp = await call(server, "POST", "/api/v1/sites", token=token, body=body)
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


async def test_site_lifecycle_and_secret_rotation(
    server: ServerProcess, demo: DemoTenant, admin_token: str
) -> None:
    site = await _create_site(server, admin_token)
    key, secret = site["site_key"], site["site_secret"]
    assert site["allowed_origins"] == ["https://shop.example.com"]

    listed = await call(server, "GET", "/api/v1/sites", token=admin_token)
    assert key in {s["site_key"] for s in listed.json()["sites"]}
    assert secret not in listed.text and demo.site_secret not in listed.text
    one = await call(server, "GET", f"/api/v1/sites/{key}", token=admin_token)
    assert one.status_code == 200 and "site_secret" not in one.json()

    proof = {"user_id": "u-1", "user_hash": user_hash(secret, "u-1")}
    ok = await visitor_session(server, site_key=key, origin="https://shop.example.com", **proof)
    assert ok.status_code == 200, ok.text

    rotated = await call(server, "POST", f"/api/v1/sites/{key}/rotate-secret", token=admin_token)
    assert rotated.status_code == 200
    new_secret = rotated.json()["site_secret"]
    assert new_secret != secret
    stale = await visitor_session(server, site_key=key, **proof)
    assert stale.status_code == 401 and code(stale) == "bad_user_hash"
    fresh = await visitor_session(server, site_key=key, user_id="u-1",
                                  user_hash=user_hash(new_secret, "u-1"))
    assert fresh.status_code == 200

    patched = await call(server, "PATCH", f"/api/v1/sites/{key}", token=admin_token, body={
        "name": "Shop 2", "allowed_origins": ["https://new.example.com/"],
        "require_timed_hash": True, "user_hash_max_age_secs": 600})
    assert patched.status_code == 200, patched.text
    assert patched.json()["allowed_origins"] == ["https://new.example.com"]
    assert patched.json()["require_timed_hash"] is True
    assert "site_secret" not in patched.json()
    moved = await visitor_session(server, site_key=key, origin="https://shop.example.com")
    assert moved.status_code == 403 and code(moved) == "origin_not_allowed"
    untimed = await visitor_session(server, site_key=key, user_id="u-1",
                                    user_hash=user_hash(new_secret, "u-1"))
    assert untimed.status_code == 401
    now = int(time.time())
    for timed in (timed_user_hash(new_secret, "u-1", now), user_hash(new_secret, "u-1", now)):
        # Both timed forms: the first one (PROTOCOL §3) only where no untimed hash works.
        ok = await visitor_session(server, site_key=key, user_id="u-1", user_ts=now,
                                   user_hash=timed)
        assert ok.status_code == 200, ok.text

    for bad in ({"allowed_origins": ["not an origin"]}, {"name": ""}, {"secret": "x"},
                {"user_hash_max_age_secs": 1}):
        resp = await call(server, "PATCH", f"/api/v1/sites/{key}", token=admin_token, body=bad)
        assert resp.status_code == 400, (bad, resp.text)

    deleted = await call(server, "DELETE", f"/api/v1/sites/{key}", token=admin_token)
    assert deleted.status_code == 200
    gone = await visitor_session(server, site_key=key)
    assert gone.status_code == 404
    assert (await call(server, "GET", f"/api/v1/sites/{key}", token=admin_token)).status_code == 404

    audit = await call(server, "GET", f"/api/v1/audit?target={key}", token=admin_token)
    actions = [e["action"] for e in audit.json()["entries"]]
    assert actions == ["site.delete", "site.update", "site.rotate_secret", "site.create"]
    assert secret not in audit.text and new_secret not in audit.text


async def test_sites_are_admin_only_and_tenant_private(
    server: ServerProcess, demo: DemoTenant, admin_token: str, agent_token: str,
    other_admin_token: str, visitor_token: str,
) -> None:
    site = await _create_site(server, admin_token, name="Private")
    key = site["site_key"]
    assert (await call(server, "GET", "/api/v1/sites")).status_code == 401
    for token in (agent_token, visitor_token):
        for method, path in (("GET", "/api/v1/sites"), ("GET", f"/api/v1/sites/{key}"),
                             ("POST", f"/api/v1/sites/{key}/rotate-secret")):
            resp = await call(server, method, path, token=token)
            assert resp.status_code == 403, (method, path, resp.text)
    theirs = await call(server, "GET", "/api/v1/sites", token=other_admin_token)
    assert key not in theirs.text and demo.site_key not in theirs.text
    for method, path, body in (
        ("GET", f"/api/v1/sites/{key}", None),
        ("PATCH", f"/api/v1/sites/{key}", {"name": "mine now"}),
        ("POST", f"/api/v1/sites/{key}/rotate-secret", None),
        ("DELETE", f"/api/v1/sites/{key}", None),
    ):
        resp = await call(server, method, path, token=other_admin_token, body=body)
        assert resp.status_code == 404 and code(resp) == "not_found", (method, path)
    kept = await call(server, "GET", f"/api/v1/sites/{key}", token=admin_token)
    assert kept.json()["name"] == "Private"
    still = await visitor_session(server, site_key=key, user_id="u",
                                  user_hash=user_hash(site["site_secret"], "u"))
    assert still.status_code == 200


async def test_deleting_a_site_stops_its_visitors_tokens(
    server: ServerProcess, admin_token: str
) -> None:
    """The site's widget stops at once: a token issued for it opens nothing any more."""
    site = await _create_site(server, admin_token)
    resp = await visitor_session(server, site_key=site["site_key"])
    assert resp.status_code == 200, resp.text
    token = resp.json()["token"]
    deleted = await call(server, "DELETE", f"/api/v1/sites/{site['site_key']}", token=admin_token)
    assert deleted.status_code == 200
    pool = Clients()
    try:
        client = await pool.connect(server, "/ws/visitor", label="orphan")
        await client.send_json({"type": "hello", "token": token})
        await client.wait_closed()
        assert client.ws.close_code == 4401
    finally:
        await pool.close_all()


async def test_csat_setting_is_read_changed_audited_and_admin_only(
    server: ServerProcess, demo: DemoTenant, admin_token: str, agent_token: str,
    other_admin_token: str,
) -> None:
    site = await _create_site(server, admin_token, name="Rated")
    key = site["site_key"]
    assert site["csat_enabled"] is True  # the default: visitors are offered a rating
    path = f"/api/v1/sites/{key}"
    denied = await call(server, "PATCH", path, token=agent_token, body={"csat_enabled": False})
    assert denied.status_code == 403
    theirs = await call(server, "PATCH", path, token=other_admin_token,
                        body={"csat_enabled": False})
    assert theirs.status_code == 404 and code(theirs) == "not_found"
    bad = await call(server, "PATCH", path, token=admin_token, body={"csat_enabled": "maybe"})
    assert bad.status_code == 400
    assert (await call(server, "GET", path, token=admin_token)).json()["csat_enabled"] is True

    off = await call(server, "PATCH", path, token=admin_token, body={"csat_enabled": False})
    assert off.status_code == 200 and off.json()["csat_enabled"] is False
    assert (await call(server, "GET", path, token=admin_token)).json()["csat_enabled"] is False
    audit = await call(server, "GET", f"/api/v1/audit?target={key}", token=admin_token)
    update = next(e for e in audit.json()["entries"] if e["action"] == "site.update")
    assert "csat_enabled" in str(update), update
