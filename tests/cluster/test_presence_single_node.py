"""Presence on one node without Redis: the in-process store answers the same questions."""

from __future__ import annotations

import pytest

from tests.cluster.test_presence import FAST_PRESENCE, _agents, _eventually, _id, _presence
from tests.support.clients import Clients
from tests.support.server import ServerFactory


@pytest.mark.timeout(120)
async def test_an_agent_is_connected_until_its_last_connection_drops(
    server_factory: ServerFactory, clients: Clients
) -> None:
    srv = server_factory(FAST_PRESENCE)
    assert srv.demo is not None
    watcher = await clients.agent(srv, srv.demo.admin, label="admin")
    first = await clients.agent(srv, srv.demo.agents[0], label="tab 1")
    second = await clients.agent(srv, login_data=first.login, label="tab 2")
    agent_id = _id(first)
    await watcher.recv_until(_presence("agent.presence", "agent", agent_id, True), 5)
    before = (await _agents(srv, watcher))[agent_id]
    assert before["connected"] is True

    await first.close()
    await watcher.ping_pong()
    assert (await _agents(srv, watcher))[agent_id]["connected"] is True, "one tab is still open"

    second.abort()  # dropped without a close frame: the server notices the dead socket

    async def gone() -> bool:
        return (await _agents(srv, watcher))[agent_id]["connected"] is False

    await _eventually(gone, 5, "the agent is not connected once its last socket is gone")
    await watcher.recv_until(_presence("agent.presence", "agent", agent_id, False), 5)
    assert (await _agents(srv, watcher))[agent_id]["status"] == before["status"]  # the chosen one
