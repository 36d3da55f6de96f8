"""Disabling an agent ends the offers it holds: the conversation moves on to an agent who
can take it, rather than waiting out an offer timeout (up to an hour) for someone who
can never accept again."""

from __future__ import annotations

from tests.routing.support import new_tenant, offered_to
from tests.routing.test_offers import visitor_writes
from tests.support.clients import Clients
from tests.support.server import ServerProcess


async def test_a_disabled_agents_offer_moves_on(server: ServerProcess, clients: Clients) -> None:
    t = await new_tenant(server)
    dep = t.department("Claims", [0, 1], policy="round_robin", timeout=3600)
    a0, a1 = await t.agent(clients, 0), await t.agent(clients, 1)
    conv = await visitor_writes(t, clients, department=dep)
    first_id = min(t.agent_id(0), t.agent_id(1))  # never offered yet: ties break on id
    holder, other = (a0, a1) if t.agent_id(0) == first_id else (a1, a0)
    await holder.recv_until(lambda f: offered_to(f, conv))
    disabled = await t.call("POST", f"/agents/{first_id}/disable", t.admin_token)
    assert disabled.status_code == 200, disabled.text
    offer = await other.recv_until(lambda f: offered_to(f, conv), timeout=5)
    assert offer["data"]["agent"]["id"] != first_id
