"""PROTOCOL §3 from the client's side: health, visitor sessions, agent login."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.clients import (
    Clients,
    agent_login,
    assert_error_response,
    get,
    login,
    post_json,
    timed_user_hash,
    user_hash,
    visitor_session,
)
from tests.support.http import http_client
from tests.support.server import DemoTenant, ServerFactory, ServerProcess

SESSION_PATH = "/api/v1/visitor/session"


def parse_iso(value: str) -> datetime:
    stamp = datetime.fromisoformat(value)
    assert stamp.tzinfo is not None, f"timestamp without a zone: {value!r}"
    return stamp


# ------------------------------------------------------------------------ health


async def test_healthz_reports_each_part_ok(server: ServerProcess) -> None:
    resp = await get(server, "/api/healthz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["database"] == "OK"
    # "n/a" without STEADY_REDIS_URL (in-process bus); a cluster's nodes share a Redis.
    assert body["redis"] == ("OK" if server.redis_url else "n/a")
    assert body["websocket"] == "OK"
    assert isinstance(body["version"], str) and body["version"]


# ------------------------------------------------------------------------ visitor session


async def test_new_visitor_session_has_id_token_expiry_and_no_conversation(
    server: ServerProcess,
) -> None:
    resp = await visitor_session(server, name="Ada", email="ada@example.com",
                                 page_url="https://shop.example/cart", language="en")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {"visitor_id", "token", "expires_at", "conversation"} <= set(body)
    assert isinstance(body["visitor_id"], str) and body["visitor_id"]
    assert isinstance(body["token"], str) and len(body["token"]) >= 20
    assert body["conversation"] is None
    ttl = parse_iso(body["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=6, hours=23) < ttl <= timedelta(days=7, minutes=1), ttl


async def test_two_new_sessions_are_two_different_visitors(server: ServerProcess) -> None:
    a = (await visitor_session(server)).json()
    b = (await visitor_session(server)).json()
    assert a["visitor_id"] != b["visitor_id"]
    assert a["token"] != b["token"]


async def test_token_restores_the_same_visitor(server: ServerProcess) -> None:
    first = (await visitor_session(server)).json()
    resp = await visitor_session(server, token=first["token"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["visitor_id"] == first["visitor_id"]


async def test_token_restores_the_open_conversation(server: ServerProcess,
                                                    clients: Clients) -> None:
    visitor = await clients.visitor(server)
    ack = await visitor.send_and_ack("where is my order?")
    resp = await visitor_session(server, token=visitor.session["token"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["visitor_id"] == visitor.session["visitor_id"]
    assert resp.json()["conversation"] == ack["conv"]


async def test_tampered_token_does_not_restore_the_visitor(server: ServerProcess) -> None:
    first = (await visitor_session(server)).json()
    token = first["token"]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    resp = await visitor_session(server, token=tampered)
    if resp.status_code == 200:  # treated as a new visitor: acceptable, never the old one
        assert resp.json()["visitor_id"] != first["visitor_id"]
    else:
        assert 400 <= resp.status_code < 500
        assert_error_response(resp)


async def test_allowed_origin_gets_a_session(server: ServerProcess, demo: DemoTenant) -> None:
    resp = await visitor_session(server, origin=demo.origin)
    assert resp.status_code == 200, resp.text


async def test_origin_not_allowed_is_403_origin_not_allowed(server: ServerProcess) -> None:
    resp = await visitor_session(server, origin="https://evil.example")
    assert_error_response(resp, 403, "origin_not_allowed")


async def test_verified_user_gets_the_same_visitor_every_time(
    server: ServerProcess, demo: DemoTenant,
) -> None:
    user = f"user-{time.time_ns()}"
    sig = user_hash(demo.site_secret, user)
    first = await visitor_session(server, user_id=user, user_hash=sig)
    again = await visitor_session(server, user_id=user, user_hash=sig)
    assert first.status_code == 200, first.text
    assert again.status_code == 200, again.text
    assert first.json()["visitor_id"] == again.json()["visitor_id"]
    other = f"{user}-2"
    third = await visitor_session(server, user_id=other,
                                  user_hash=user_hash(demo.site_secret, other))
    assert third.status_code == 200, third.text
    assert third.json()["visitor_id"] != first.json()["visitor_id"]


@pytest.mark.parametrize("case", ["wrong hash", "no hash", "hash of another user",
                                  "hash with another secret"])
async def test_user_id_without_a_valid_hash_is_401_bad_user_hash(
    server: ServerProcess, demo: DemoTenant, case: str,
) -> None:
    user = f"user-{time.time_ns()}"
    fields: dict[str, Any] = {"user_id": user}
    if case == "wrong hash":
        fields["user_hash"] = "0" * 64
    elif case == "hash of another user":
        fields["user_hash"] = user_hash(demo.site_secret, user + "x")
    elif case == "hash with another secret":
        fields["user_hash"] = user_hash(demo.site_secret + "x", user)
    resp = await visitor_session(server, **fields)
    assert_error_response(resp, 401, "bad_user_hash", secrets=[demo.site_secret])


async def test_timed_user_hash_is_accepted(server: ServerProcess, demo: DemoTenant) -> None:
    user = f"user-{time.time_ns()}"
    now = int(time.time())
    resp = await visitor_session(server, user_id=user, user_ts=now,
                                 user_hash=timed_user_hash(demo.site_secret, user, now))
    assert resp.status_code == 200, resp.text
    plain = await visitor_session(server, user_id=user,
                                  user_hash=user_hash(demo.site_secret, user))
    assert plain.status_code == 200, plain.text
    assert plain.json()["visitor_id"] == resp.json()["visitor_id"]


async def test_an_untimed_hash_of_id_colon_ts_does_not_pass_as_id_at_ts(
    server: ServerProcess, demo: DemoTenant,
) -> None:
    """Issue #11: the site signs the user "bob:<now>" (ids may hold ':'); that hash must
    not prove "bob" with user_ts <now>, whichever timed form it is offered as."""
    bob, now = f"bob-{time.time_ns()}", int(time.time())
    untimed = user_hash(demo.site_secret, f"{bob}:{now}")
    for offered in (untimed, "t1:" + untimed):
        resp = await visitor_session(server, user_id=bob, user_ts=now, user_hash=offered)
        assert_error_response(resp, 401, "bad_user_hash", secrets=[demo.site_secret])
    own = await visitor_session(server, user_id=f"{bob}:{now}", user_hash=untimed)
    assert own.status_code == 200, own.text  # the untimed form still proves its own id


async def test_timed_user_hash_older_than_24h_is_401_stale_user_hash(
    server: ServerProcess, demo: DemoTenant,
) -> None:
    user = f"user-{time.time_ns()}"
    old = int(time.time()) - 24 * 3600 - 120
    resp = await visitor_session(server, user_id=user, user_ts=old,
                                 user_hash=timed_user_hash(demo.site_secret, user, old))
    assert_error_response(resp, 401, "stale_user_hash")


async def test_timed_user_hash_signed_for_another_time_is_401_bad_user_hash(
    server: ServerProcess, demo: DemoTenant,
) -> None:
    user = f"user-{time.time_ns()}"
    now = int(time.time())
    resp = await visitor_session(server, user_id=user, user_ts=now,
                                 user_hash=timed_user_hash(demo.site_secret, user, now - 60))
    assert_error_response(resp, 401, "bad_user_hash")


async def test_unknown_site_key_is_refused_with_the_error_shape(server: ServerProcess) -> None:
    resp = await visitor_session(server, site_key="no-such-site-key")
    assert 400 <= resp.status_code < 500, resp.text
    assert_error_response(resp)


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"name": "no site key"}'],
                         ids=["malformed", "array", "no-site-key"])
async def test_bad_session_request_is_4xx_with_the_error_shape(
    server: ServerProcess, body: bytes,
) -> None:
    async with http_client(base_url=server.url, timeout=10) as http:
        resp = await http.post(SESSION_PATH, content=body,
                               headers={"Content-Type": "application/json"})
    assert 400 <= resp.status_code < 500, resp.text
    assert_error_response(resp)


# ------------------------------------------------------------------------ agent login


async def test_agent_login_returns_token_expiry_and_agent(
    server: ServerProcess, demo: DemoTenant,
) -> None:
    account = demo.agents[0]
    resp = await agent_login(server, account.email, account.password)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert isinstance(body["token"], str) and body["token"]
    assert parse_iso(body["expires_at"]) > datetime.now(UTC)
    agent = body["agent"]
    assert {"id", "name", "email", "role"} <= set(agent)
    assert agent["email"] == account.email
    assert agent["role"] == "agent"
    assert account.password not in resp.text


async def test_admin_login_has_role_admin(server: ServerProcess, demo: DemoTenant) -> None:
    body = await login(server, demo.admin)
    assert body["agent"]["role"] == "admin"


async def test_wrong_password_is_401_with_the_error_shape(
    server: ServerProcess, demo: DemoTenant,
) -> None:
    account = demo.agents[1]
    wrong = account.password + "-wrong"
    resp = await agent_login(server, account.email, wrong)
    assert_error_response(resp, 401, secrets=[wrong, account.password])


async def test_unknown_email_fails_like_a_wrong_password(
    server: ServerProcess, demo: DemoTenant,
) -> None:
    account = demo.agents[1]
    wrong_pw = await agent_login(server, account.email, "not-the-password")
    unknown = await agent_login(server, "nobody@nowhere.example", "not-the-password")
    code = assert_error_response(wrong_pw, 401)
    assert_error_response(unknown, 401, code)  # no account enumeration


async def test_login_to_another_tenant_with_these_credentials_fails(
    server: ServerProcess, demo: DemoTenant,
) -> None:
    account = demo.agents[1]
    resp = await agent_login(server, account.email, account.password, tenant="no-such-tenant")
    assert 400 <= resp.status_code < 500, resp.text
    assert_error_response(resp, secrets=[account.password])


async def test_malformed_login_request_is_4xx_with_the_error_shape(server: ServerProcess) -> None:
    resp = await post_json(server, "/api/v1/auth/login", {"email": 5})
    assert 400 <= resp.status_code < 500, resp.text
    assert_error_response(resp)


async def test_eleventh_failure_for_one_account_is_429_too_many_attempts(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory()
    assert srv.demo is not None
    account, bystander = srv.demo.agents[0], srv.demo.agents[1]
    for attempt in range(1, 11):
        resp = await agent_login(srv, account.email, f"wrong-{attempt}")
        assert_error_response(resp, 401)
    eleventh = await agent_login(srv, account.email, "wrong-11")
    assert_error_response(eleventh, 429, "too_many_attempts")
    # While throttled even the right password is refused: otherwise the throttle
    # would still tell a guesser which password is right.
    right = await agent_login(srv, account.email, account.password)
    assert_error_response(right, 429, "too_many_attempts", secrets=[account.password])
    # Another account from the same address is not locked by this one's failures.
    other = await agent_login(srv, bystander.email, bystander.password)
    assert other.status_code == 200, other.text
