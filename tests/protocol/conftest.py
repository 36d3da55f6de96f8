"""Fixtures of the protocol suite (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from tests.support.bridges import admin_token, other, tenant  # fixtures of test_bridges.py
from tests.support.clients import Clients, WsClient, open_conversation
from tests.support.server import DemoTenant, ServerProcess

__all__ = ["admin_token", "other", "tenant"]


@pytest.fixture(scope="module")
def demo(server: ServerProcess) -> DemoTenant:
    assert server.demo is not None
    return server.demo


@pytest.fixture(scope="module")
def other_tenant(server: ServerProcess) -> DemoTenant:
    """A second tenant in the same database: `demo --json --tenant other`."""
    other = server.run_demo("other")
    assert server.demo is not None
    assert other.tenant != server.demo.tenant, "demo --tenant other made the same tenant"
    assert other.site_key != server.demo.site_key
    return other


@dataclass
class Chat:
    """A visitor and an agent in one accepted conversation."""

    visitor: WsClient
    agent: WsClient
    conv: str


@pytest_asyncio.fixture
async def chat(server: ServerProcess, demo: DemoTenant, clients: Clients) -> AsyncIterator[Chat]:
    visitor = await clients.visitor(server, name="Visitor")
    agent = await clients.agent(server, demo.agents[0])
    conv = await open_conversation(visitor, agent)
    yield Chat(visitor, agent, conv)
    # Leave no open conversation piling up on the shared agent between tests.
    already = any(f.get("name") == "conv.closed" and f.get("conv") == conv for f in agent.log)
    if not agent.closed.is_set() and not already:
        with contextlib.suppress(Exception):
            await agent.send_json({"type": "close", "conv": conv})
            await agent.recv_event("conv.closed", conv, timeout=2)
