"""A status frame whose state is not a string is a bad frame, not an internal error."""

from __future__ import annotations

from typing import Any

import pytest

from tests.routing.support import new_tenant
from tests.support.clients import Clients
from tests.support.server import ServerProcess


@pytest.mark.parametrize("state", [["online"], {"x": 1}])
async def test_an_unhashable_state_is_a_bad_frame(
    server: ServerProcess, clients: Clients, state: Any
) -> None:
    t = await new_tenant(server)
    agent = await t.agent(clients, 0, online=False)
    await agent.send_json({"type": "status", "state": state})
    err = await agent.recv_until(lambda f: f.get("type") == "error")
    assert err["code"] == "bad_frame", err
