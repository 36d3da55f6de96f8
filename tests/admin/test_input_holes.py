"""Inputs that used to reach Python or the database unchecked and came back as 500s."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.admin.conftest import call
from tests.support.clients import assert_error_response
from tests.support.server import ServerProcess


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01T00:00:00%2B01:00",  # valid ISO, out of range once made UTC
        "until=9999-12-31T23:59:59-01:00",
        "since=1000000000000000000",  # unix seconds far past year 9999
        "before=99999999999999999999",  # past a 64-bit integer
        "before=-99999999999999999999",
    ],
)
async def test_log_filters_out_of_range_are_400(
    server: ServerProcess, admin_token: str, query: str
) -> None:
    for path in ("/api/v1/audit", "/api/v1/login-log"):
        resp = await call(server, "GET", f"{path}?{query}", token=admin_token)
        assert_error_response(resp, 400, "bad_request")


@pytest.mark.parametrize(
    "body",
    [
        [],
        "manual",
        None,
        {"policy": ["manual"]},
        {"policy": {"a": 1}},
    ],
)
async def test_default_routing_rejects_non_objects_and_odd_policies(
    server: ServerProcess, admin_token: str, body: object
) -> None:
    resp = await call(
        server,
        "PUT",
        "/api/v1/routing/default",
        token=admin_token,
        raw=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    assert_error_response(resp, 400, "bad_request")


async def test_department_routing_rejects_an_unhashable_policy(
    server: ServerProcess, admin_token: str
) -> None:
    made = await call(
        server,
        "POST",
        "/api/v1/departments",
        token=admin_token,
        body={"name": f"holes-{secrets.token_hex(4)}"},
    )
    assert made.status_code == 201, made.text
    path = f"/api/v1/departments/{made.json()['id']}/routing"
    for body in ({"policy": ["round_robin"]}, {"policy": {"x": 1}}):
        resp = await call(server, "PUT", path, token=admin_token, body=body)
        assert_error_response(resp, 400, "bad_request")


async def test_an_overlong_origin_is_400(server: ServerProcess, admin_token: str) -> None:
    """50 origins of 2 KB each overflow MySQL's TEXT column (a 500, or a truncated list)."""
    origins = [f"https://{n}{'a' * 2000}.example.com" for n in range(50)]
    made = await call(
        server,
        "POST",
        "/api/v1/sites",
        token=admin_token,
        body={"name": "long", "allowed_origins": origins},
    )
    assert_error_response(made, 400, "bad_request")


async def test_blank_names_are_400(server: ServerProcess, admin_token: str) -> None:
    """A name of spaces passed min_length and was stored empty after the strip."""
    made = await call(
        server, "POST", "/api/v1/departments", token=admin_token, body={"name": "   "}
    )
    assert_error_response(made, 400, "bad_request")
