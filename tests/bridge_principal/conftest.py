"""Fixtures of the bridge-principal suite (docs/bridges.md, BRIDGES.md §1); the helpers
are in tests/support/bridges.py.

The module-scoped ``server`` (tests/conftest.py) runs on both backends. Each module uses a
tenant of its own (``tenant``), so a bridge that follows its whole tenant sees only what
that module does; ``other`` is a second tenant on the same database.
"""

from __future__ import annotations

import secrets

import pytest
import pytest_asyncio

from tests.support.bridges import token_of
from tests.support.server import DemoTenant, ServerProcess


@pytest.fixture(scope="module")
def tenant(server: ServerProcess) -> DemoTenant:
    return server.run_demo("bridges-" + secrets.token_hex(3))


@pytest.fixture(scope="module")
def other(server: ServerProcess) -> DemoTenant:
    return server.run_demo("bridges-other-" + secrets.token_hex(3))


@pytest_asyncio.fixture
async def admin_token(server: ServerProcess, tenant: DemoTenant) -> str:
    return await token_of(server, tenant.admin, tenant)
