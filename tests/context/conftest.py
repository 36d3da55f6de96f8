"""Fixtures of the agent-tools suite: the demo tenant, a second tenant in the same
database, REST helpers with a bearer token, and direct reads of the server's database
(for what has no REST view yet, such as the audit rows)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import peewee as pw
import pytest
import pytest_asyncio

from server.storage.database import make_database
from tests.support.clients import HTTP_TIMEOUT, cached_login
from tests.support.http import http_client
from tests.support.server import Account, DemoTenant, ServerProcess


@pytest.fixture(scope="module")
def demo(server: ServerProcess) -> DemoTenant:
    assert server.demo is not None
    return server.demo


@pytest.fixture(scope="module")
def other_tenant(server: ServerProcess) -> DemoTenant:
    return server.run_demo("other")


class Rest:
    """Bearer-token REST calls against one server."""

    def __init__(self, server: ServerProcess, token: str | None) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                   params: Mapping[str, str] | None = None) -> httpx.Response:
        async with http_client(base_url=self.server.url, timeout=HTTP_TIMEOUT) as http:
            return await http.request(method, "/api/v1" + path, headers=self.headers,
                                      json=dict(body) if body is not None else None,
                                      params=dict(params or {}))

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, body: Mapping[str, Any]) -> httpx.Response:
        return await self.call("POST", path, body)

    async def patch(self, path: str, body: Mapping[str, Any]) -> httpx.Response:
        return await self.call("PATCH", path, body)

    async def delete(self, path: str) -> httpx.Response:
        return await self.call("DELETE", path)


async def rest_as(server: ServerProcess, account: Account, demo: DemoTenant) -> Rest:
    login = await cached_login(server, account, demo=demo)
    return Rest(server, str(login["token"]))


@pytest_asyncio.fixture
async def admin(server: ServerProcess, demo: DemoTenant) -> Rest:
    return await rest_as(server, demo.admin, demo)


@pytest_asyncio.fixture
async def agent(server: ServerProcess, demo: DemoTenant) -> Rest:
    return await rest_as(server, demo.agents[0], demo)


@pytest_asyncio.fixture
async def agent2(server: ServerProcess, demo: DemoTenant) -> Rest:
    return await rest_as(server, demo.agents[1], demo)


@pytest_asyncio.fixture
async def foreign_admin(server: ServerProcess, other_tenant: DemoTenant) -> Rest:
    return await rest_as(server, other_tenant.admin, other_tenant)


@pytest.fixture(scope="module")
def server_db(server: ServerProcess) -> Iterator[pw.Database]:
    """The server's own database, read directly (raw SQL, no tenant guard involved)."""
    database = make_database(server.database_url, max_connections=2)
    try:
        yield database
    finally:
        database.close_all()


def query_rows(database: pw.Database, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    placeholder = "%s" if isinstance(database, pw.MySQLDatabase) else "?"
    with database.connection_context():
        return list(database.execute_sql(sql.replace("?", placeholder), params).fetchall())
