"""Helpers of the routing suite: a fresh tenant per test on a shared server, setup rows the
admin API of this branch does not create (departments, memberships, capacity), and REST."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from server.ids import new_id
from server.storage.database import db, make_database
from server.storage.guard import TenantScope
from server.storage.models import Agent, AgentDepartment, AuditLog, Conversation, Department
from tests.support.clients import Clients, WsClient, login
from tests.support.http import http_client
from tests.support.server import DemoTenant, ServerProcess

T = TypeVar("T")
HTTP_TIMEOUT = 10.0


def with_db(server: ServerProcess, fn: Callable[[], T]) -> T:
    """Run ``fn`` against the server's database from the test process (setup and checks)."""
    database = make_database(server.database_url, max_connections=2)
    db.initialize(database)
    try:
        with database.connection_context():
            return fn()
    finally:
        database.close_all()


@dataclass
class Tenant:
    """A tenant of its own for one test, on a shared server."""

    server: ServerProcess
    demo: DemoTenant
    admin_token: str
    agent_tokens: list[str]

    @property
    def id(self) -> str:
        return self.demo.tenant

    @property
    def site(self) -> str:
        return self.demo.site_key

    def agent_id(self, n: int) -> str:
        email = self.demo.agents[n].email
        row = with_db(
            self.server, lambda: TenantScope(self.id).get_or_none(Agent, Agent.email == email)
        )
        assert row is not None
        return row.id

    def department(
        self, name: str, members: list[int], policy: str = "manual", timeout: int = 30
    ) -> str:
        """A department with the demo agents ``members`` (indexes) in it."""
        ids = [self.agent_id(n) for n in members]
        dep = new_id()

        def create() -> None:
            scope = TenantScope(self.id)
            scope.create(Department, id=dep, name=name, policy=policy, offer_timeout_secs=timeout)
            for agent in ids:
                scope.create(AgentDepartment, agent_id=agent, department_id=dep)

        with_db(self.server, create)
        return dep

    def set_capacity(self, n: int, capacity: int) -> None:
        agent = self.agent_id(n)
        with_db(
            self.server,
            lambda: (
                TenantScope(self.id)
                .update(Agent, capacity=capacity)
                .where(Agent.id == agent)
                .execute()
            ),
        )

    def conversation(self, conv: str) -> Conversation:
        row = with_db(
            self.server,
            lambda: TenantScope(self.id).get_or_none(Conversation, Conversation.id == conv),
        )
        assert row is not None
        return row

    def audit(self, action: str) -> list[AuditLog]:
        return with_db(
            self.server,
            lambda: list(TenantScope(self.id).select(AuditLog).where(AuditLog.action == action)),
        )

    async def agent(self, clients: Clients, n: int, *, online: bool = True) -> WsClient:
        client = await clients.agent(
            self.server,
            self.demo.agents[n],
            demo=self.demo,
            login_data={"token": self.agent_tokens[n]},
            label=f"{self.id}-agent{n}",
        )
        if online:
            await client.send_json({"type": "status", "state": "online"})
            await client.recv_event("agent.status")
        return client

    async def call(
        self, method: str, path: str, token: str | None = None, body: Any = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with http_client(
            base_url=self.server.url, timeout=HTTP_TIMEOUT
        ) as http:
            return await http.request(method, "/api/v1" + path, json=body, headers=headers)

    async def session(self, **fields: Any) -> httpx.Response:
        return await self.call("POST", "/visitor/session", body={"site_key": self.site, **fields})


async def new_tenant(server: ServerProcess) -> Tenant:
    demo = server.run_demo("r" + secrets.token_hex(5))
    admin = await login(server, demo.admin, demo=demo)
    agents = [await login(server, a, demo=demo) for a in demo.agents]
    return Tenant(server, demo, admin["token"], [a["token"] for a in agents])


def offered_to(frame: dict[str, Any], conv: str) -> bool:
    return (
        frame.get("type") == "event"
        and frame.get("name") == "conv.offered"
        and frame.get("conv") == conv
    )
