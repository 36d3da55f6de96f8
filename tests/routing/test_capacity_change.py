"""An admin's change that gives an agent room (more capacity, a new department, enabled
again) offers the waiting conversations at once: nothing else would until some other
event (an agent coming online, a close), so they could wait indefinitely."""

from __future__ import annotations

from tests.routing.support import new_tenant, offered_to
from tests.routing.test_offers import visitor_writes
from tests.support.clients import Clients
from tests.support.server import ServerProcess


async def test_raising_capacity_offers_a_waiting_conversation(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    t.set_capacity(0, 1)
    dep = t.department("Tiny", [0], policy="round_robin")
    a0 = await t.agent(clients, 0)
    first = await visitor_writes(t, clients, department=dep)
    await a0.recv_until(lambda f: offered_to(f, first))
    await a0.send_json({"type": "accept", "conv": first})
    await a0.recv_event("conv.assigned", first)
    second = await visitor_writes(t, clients, department=dep)
    await a0.expect_no_frame(lambda f: offered_to(f, second), within=0.8)
    resp = await t.call("PATCH", f"/agents/{t.agent_id(0)}", t.admin_token, {"capacity": 2})
    assert resp.status_code == 200, resp.text
    await a0.recv_until(lambda f: offered_to(f, second), timeout=3)


async def test_switching_a_department_to_auto_offers_its_waiting_conversations(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Was manual", [0])
    a0 = await t.agent(clients, 0)
    conv = await visitor_writes(t, clients, department=dep)
    await a0.recv_event("conv.queued", conv)
    body = {"policy": "round_robin", "offer_timeout_secs": 30}
    resp = await t.call("PUT", f"/departments/{dep}/routing", t.admin_token, body)
    assert resp.status_code == 200, resp.text
    await a0.recv_until(lambda f: offered_to(f, conv), timeout=3)


async def test_switching_the_default_to_auto_offers_waiting_conversations(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    a0 = await t.agent(clients, 0)
    conv = await visitor_writes(t, clients)
    await a0.recv_event("conv.queued", conv)
    resp = await t.call("PUT", "/routing/default", t.admin_token, {"policy": "least_loaded"})
    assert resp.status_code == 200, resp.text
    await a0.recv_until(lambda f: offered_to(f, conv), timeout=3)
