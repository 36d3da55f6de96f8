"""Fixtures of the admin suite: the demo tenant's admin, a second tenant, and one HTTP helper.

The module-scoped ``server`` (tests/conftest.py) runs on both backends; ``other`` is a second
tenant in the same database, made with the CLI (``demo --json --tenant``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.support.clients import HTTP_TIMEOUT, cached_login, new_visitor
from tests.support.http import http_client
from tests.support.server import DemoTenant, ServerProcess


async def call(
    server: ServerProcess, method: str, path: str, *, token: str | None = None,
    body: Any = None, headers: Mapping[str, str] | None = None, raw: bytes | None = None,
) -> httpx.Response:
    """One HTTP request; ``token`` becomes a bearer header, ``body`` JSON, ``raw`` bytes."""
    sent = dict(headers or {})
    if token:
        sent["authorization"] = f"Bearer {token}"
    async with http_client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
        if raw is not None:
            return await http.request(method, path, content=raw, headers=sent)
        if body is None:
            return await http.request(method, path, headers=sent)
        return await http.request(method, path, json=body, headers=sent)


def signed_headers(
    key: str, secret: str, method: str, path: str, body: bytes = b""
) -> dict[str, str]:
    """PROTOCOL §3 signed-request headers."""
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(12)
    message = f"v1:{timestamp}:{nonce}:{method}:{path}:{hashlib.sha256(body).hexdigest()}"
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {"X-Steady-Key": key, "X-Steady-Timestamp": timestamp, "X-Steady-Nonce": nonce,
            "X-Steady-Signature": signature}


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


@pytest.fixture(scope="module")
def demo(server: ServerProcess) -> DemoTenant:
    assert server.demo is not None
    return server.demo


@pytest.fixture(scope="module")
def other(server: ServerProcess) -> DemoTenant:
    """A second tenant with its own admin, site and agents, on the same database."""
    return server.run_demo("admin-other")


@pytest_asyncio.fixture
async def admin_token(server: ServerProcess, demo: DemoTenant) -> str:
    return str((await cached_login(server, demo.admin))["token"])


@pytest_asyncio.fixture
async def agent_token(server: ServerProcess, demo: DemoTenant) -> str:
    return str((await cached_login(server, demo.agents[0]))["token"])


@pytest_asyncio.fixture
async def other_admin_token(server: ServerProcess, other: DemoTenant) -> str:
    return str((await cached_login(server, other.admin, demo=other))["token"])


@pytest_asyncio.fixture
async def visitor_token(server: ServerProcess) -> str:
    return str((await new_visitor(server))["token"])
