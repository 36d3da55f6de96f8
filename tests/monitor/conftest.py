"""The live monitor's suite: one server per module with a short presence debounce (a
visitor's leaving is told in a fraction of a second), the demo tenant and a second one."""

from __future__ import annotations

import pytest
import pytest_asyncio

from tests.context.conftest import Rest, rest_as
from tests.support.server import DemoTenant, ServerFactory, ServerProcess


@pytest.fixture(scope="module")
def server(module_server_factory: ServerFactory) -> ServerProcess:
    return module_server_factory({"STEADY_PRESENCE_DEBOUNCE_SECS": "0.3"})


@pytest.fixture(scope="module")
def demo(server: ServerProcess) -> DemoTenant:
    assert server.demo is not None
    return server.demo


@pytest.fixture(scope="module")
def other_tenant(server: ServerProcess) -> DemoTenant:
    return server.run_demo("other")


@pytest_asyncio.fixture
async def admin(server: ServerProcess, demo: DemoTenant) -> Rest:
    return await rest_as(server, demo.admin, demo)


@pytest_asyncio.fixture
async def agent(server: ServerProcess, demo: DemoTenant) -> Rest:
    return await rest_as(server, demo.agents[0], demo)


@pytest_asyncio.fixture
async def foreign_admin(server: ServerProcess, other_tenant: DemoTenant) -> Rest:
    return await rest_as(server, other_tenant.admin, other_tenant)
