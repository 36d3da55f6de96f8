"""Signed server-to-server requests (PROTOCOL §3): a tenant's backend with an API key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import httpx
import pytest

from tests.support.server import ServerProcess


def _signed(
    key: str,
    secret: str,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    skew: int = 0,
    nonce: str | None = None,
) -> dict[str, str]:
    timestamp = str(int(time.time()) + skew)
    nonce = nonce or secrets.token_hex(12)
    message = f"v1:{timestamp}:{nonce}:{method}:{path}:{hashlib.sha256(body).hexdigest()}"
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {
        "X-Steady-Key": key,
        "X-Steady-Timestamp": timestamp,
        "X-Steady-Nonce": nonce,
        "X-Steady-Signature": signature,
    }


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


@pytest.fixture
def api(server: ServerProcess) -> tuple[str, str]:
    assert server.demo is not None
    return server.demo.api_key, server.demo.api_secret


def test_a_signed_request_reads_its_own_tenant(server: ServerProcess, api: tuple[str, str]) -> None:
    key, secret = api
    path = "/api/v1/conversations?status=open&limit=5"
    response = httpx.get(server.url + path, headers=_signed(key, secret, "GET", path), timeout=10)
    assert response.status_code == 200, response.text
    me = httpx.get(server.url + "/api/v1/me", headers=_signed(key, secret, "GET", "/api/v1/me"))
    assert me.json()["type"] == "api_key" and me.json()["tenant"] == server.demo.tenant  # type: ignore[union-attr]


def test_tampering_and_replays_are_refused(server: ServerProcess, api: tuple[str, str]) -> None:
    key, secret = api
    path = "/api/v1/agents"

    def get(headers: dict[str, str], url_path: str = path) -> httpx.Response:
        return httpx.get(server.url + url_path, headers=headers, timeout=10)

    wrong = _signed(key, "not-the-secret", "GET", path)
    assert get(wrong).status_code == 401 and _code(get(wrong)) == "bad_signature"
    other_path = _signed(key, secret, "GET", "/api/v1/me")
    assert _code(get(other_path)) == "bad_signature"  # signed for another path
    other_query = _signed(key, secret, "GET", path)
    assert _code(get(other_query, path + "?x=1")) == "bad_signature"
    # Timestamps are whole seconds and the request takes time: 2 s from the 300 s edge, so
    # truncation and latency cannot move a case across it (±301 did, now and then).
    assert get(_signed(key, secret, "GET", path, skew=-298)).status_code == 200
    stale = get(_signed(key, secret, "GET", path, skew=-302))
    assert stale.status_code == 401 and _code(stale) == "stale_request"
    assert _code(get(_signed(key, secret, "GET", path, skew=302))) == "stale_request"
    once = _signed(key, secret, "GET", path)
    assert get(once).status_code == 200
    replay = get(once)
    assert replay.status_code == 401 and _code(replay) == "replayed_request"
    short = _signed(key, secret, "GET", path, nonce="short")
    assert _code(get(short)) == "bad_signature"
    unknown = _signed("key_0000000000000000000", secret, "GET", path)
    assert _code(get(unknown)) == "bad_signature"
    missing = {k: v for k, v in _signed(key, secret, "GET", path).items() if k != "X-Steady-Nonce"}
    assert _code(get(missing)) == "bad_signature"


def test_a_key_never_reads_another_tenant(server: ServerProcess, api: tuple[str, str]) -> None:
    other = server.run_demo(tenant="signed-other")
    path = "/api/v1/agents"
    mine = httpx.get(server.url + path, headers=_signed(*api, "GET", path), timeout=10).json()
    theirs = httpx.get(
        server.url + path, headers=_signed(other.api_key, other.api_secret, "GET", path), timeout=10
    ).json()
    assert {a["email"] for a in mine["agents"]}.isdisjoint({a["email"] for a in theirs["agents"]})
    # A valid signature with another tenant's key id and this tenant's secret is refused.
    assert (
        httpx.get(
            server.url + path, headers=_signed(other.api_key, api[1], "GET", path), timeout=10
        ).status_code
        == 401
    )
