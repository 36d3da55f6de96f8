"""Auto-assignment with offers against a real server: round robin, least loaded, manual,
offer timeouts, capacity, agents coming online, transfers. Each test has its own tenant."""

from __future__ import annotations

import asyncio
import itertools

from tests.routing.support import Tenant, new_tenant, offered_to
from tests.support.clients import Clients
from tests.support.server import ServerProcess


async def visitor_writes(t: Tenant, clients: Clients, body: str = "hello", **fields: object) -> str:
    resp = await t.session(**fields)
    assert resp.status_code == 200, resp.text
    visitor = await clients.visitor(t.server, session=resp.json(), demo=t.demo)
    ack = await visitor.send_and_ack(body)
    return str(ack["conv"])


async def test_round_robin_offers_one_agent_who_accepts(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Support", [0, 1])
    resp = await t.call(
        "PUT",
        f"/departments/{dep}/routing",
        t.admin_token,
        {"policy": "round_robin", "offer_timeout_secs": 30},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"department": dep, "policy": "round_robin", "offer_timeout_secs": 30}
    a0, a1 = await t.agent(clients, 0), await t.agent(clients, 1)
    conv = await visitor_writes(t, clients, department=dep)
    first_id = min(t.agent_id(0), t.agent_id(1))  # never offered yet: ties break on id
    holder, other = (a0, a1) if t.agent_id(0) == first_id else (a1, a0)
    offer = await holder.recv_until(lambda f: offered_to(f, conv))
    assert offer["data"]["agent"]["id"] == first_id
    assert offer["data"]["department"] == dep and offer["data"]["timeout_secs"] == 30
    await other.expect_no_frame(lambda f: offered_to(f, conv), within=0.5)
    row = t.conversation(conv)
    assert row.offered_to == first_id and row.offered_at is not None
    await holder.send_json({"type": "accept", "conv": conv})
    assigned = await other.recv_event("conv.assigned", conv)
    assert assigned["data"]["agent"]["id"] == first_id
    # The next conversation goes to the other agent: the rotation moved on.
    conv2 = await visitor_writes(t, clients, department=dep)
    offer2 = await other.recv_until(lambda f: offered_to(f, conv2))
    assert offer2["data"]["agent"]["id"] != first_id


async def test_an_unaccepted_offer_moves_on_and_never_twice_in_a_row(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Sales", [0, 1], policy="round_robin", timeout=1)
    a0, a1 = await t.agent(clients, 0), await t.agent(clients, 1)
    conv = await visitor_writes(t, clients, department=dep)
    await asyncio.sleep(3.4)  # 1 s offers, swept every 0.5 s: three or four offers
    offers = sorted(
        (f for a in (a0, a1) for f in a.log if offered_to(f, conv)),
        key=lambda f: f["data"]["expires_at"],
    )
    holders = [f["data"]["agent"]["id"] for f in offers]
    assert len(holders) >= 3, holders
    assert all(x != y for x, y in itertools.pairwise(holders)), holders
    for agent, agent_id in ((a0, t.agent_id(0)), (a1, t.agent_id(1))):
        got = [f for f in agent.log if offered_to(f, conv)]
        assert all(f["data"]["agent"]["id"] == agent_id for f in got)  # only to the holder
    # Each agent that lost the offer was told.
    await a0.recv_event("conv.offer_expired", conv, timeout=3)
    await a1.recv_event("conv.offer_expired", conv, timeout=3)


async def test_alone_the_agent_gets_the_offer_again(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Solo", [0], policy="round_robin", timeout=1)
    a0 = await t.agent(clients, 0)
    conv = await visitor_writes(t, clients, department=dep)
    await a0.recv_until(lambda f: offered_to(f, conv))
    first_seq = t.conversation(conv).offer_seq
    await asyncio.sleep(1.8)
    row = t.conversation(conv)
    assert row.offered_to == t.agent_id(0) and row.offer_seq > first_seq


async def test_least_loaded_picks_the_agent_with_fewer_chats(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Billing", [0, 1], policy="least_loaded")
    a0, a1 = await t.agent(clients, 0), await t.agent(clients, 1)
    busy_id = min(t.agent_id(0), t.agent_id(1))
    busy, free = (a0, a1) if t.agent_id(0) == busy_id else (a1, a0)
    first = await visitor_writes(t, clients, department=dep)
    await busy.recv_until(lambda f: offered_to(f, first))
    await busy.send_json({"type": "accept", "conv": first})
    await busy.recv_event("conv.assigned", first)
    second = await visitor_writes(t, clients, department=dep)
    offer = await free.recv_until(lambda f: offered_to(f, second))
    assert offer["data"]["agent"]["id"] != busy_id


async def test_manual_departments_get_no_offers_everyone_sees_the_queue(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Manual", [0, 1])
    a0, a1 = await t.agent(clients, 0), await t.agent(clients, 1)
    conv = await visitor_writes(t, clients, department=dep)
    for agent in (a0, a1):
        queued = await agent.recv_event("conv.queued", conv)
        assert queued["data"]["department"] == dep
    await a0.expect_no_frame(lambda f: offered_to(f, conv), within=0.7)
    assert t.conversation(conv).offered_to is None


async def test_capacity_is_respected_and_closing_frees_it(
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
    await a0.send_json({"type": "close", "conv": first})
    await a0.recv_until(lambda f: offered_to(f, second))


async def test_offers_wait_for_an_agent_to_come_online(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    resp = await t.call(
        "PUT",
        "/routing/default",
        t.admin_token,
        {"policy": "round_robin", "offer_timeout_secs": 30},
    )
    assert resp.status_code == 200, resp.text
    a0 = await t.agent(clients, 0, online=False)
    conv = await visitor_writes(t, clients)  # no department: the tenant default applies
    # Routed automatically: no card until it is offered, only the count (issue #17).
    await a0.recv_until(lambda f: f.get("name") == "queue.summary" and f["data"]["waiting"] == 1)
    await a0.expect_no_frame(lambda f: offered_to(f, conv), within=0.5)
    assert not [f for f in a0.frames_about(conv) if f.get("name") == "conv.queued"]
    listed = await t.call("GET", "/conversations?offline=1&status=queued", t.agent_tokens[0])
    assert conv in [c["id"] for c in listed.json()["conversations"]]
    await a0.send_json({"type": "status", "state": "online"})
    await a0.recv_until(lambda f: offered_to(f, conv))
    about = [f["name"] for f in a0.frames_about(conv) if f.get("type") == "event"]
    assert about[:2] == ["conv.queued", "conv.offered"], about


async def test_away_agents_get_no_offers(server: ServerProcess, clients: Clients) -> None:
    t = await new_tenant(server)
    dep = t.department("Away", [0, 1], policy="round_robin")
    a0 = await t.agent(clients, 0)
    await a0.send_json({"type": "status", "state": "away"})
    await a0.recv_event("agent.status")
    a1 = await t.agent(clients, 1)
    conv = await visitor_writes(t, clients, department=dep)
    await a1.recv_until(lambda f: offered_to(f, conv))
    await a0.expect_no_frame(lambda f: offered_to(f, conv), within=0.3)


async def test_transfer_to_an_auto_department_offers_there(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    manual = t.department("Front desk", [0])
    auto = t.department("Experts", [1], policy="round_robin")
    a0, a1 = await t.agent(clients, 0), await t.agent(clients, 1)
    conv = await visitor_writes(t, clients, department=manual)
    await a0.recv_event("conv.queued", conv)
    await a0.send_json({"type": "accept", "conv": conv})
    await a0.recv_event("conv.assigned", conv)
    await a0.send_json({"type": "transfer", "conv": conv, "to_department": auto})
    await a1.recv_until(lambda f: offered_to(f, conv))


async def test_going_away_hands_held_offers_on_at_once(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Relay", [0, 1], policy="round_robin", timeout=60)
    a0, a1 = await t.agent(clients, 0), await t.agent(clients, 1)
    conv = await visitor_writes(t, clients, department=dep)
    first_id = min(t.agent_id(0), t.agent_id(1))
    holder, other = (a0, a1) if t.agent_id(0) == first_id else (a1, a0)
    await holder.recv_until(lambda f: offered_to(f, conv))
    await holder.send_json({"type": "status", "state": "away"})
    await other.recv_until(lambda f: offered_to(f, conv), timeout=3)  # not after 60 s
    await holder.recv_event("conv.offer_expired", conv)


async def test_transfer_note_reaches_agents_never_the_visitor(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    a0, a1 = await t.agent(clients, 0), await t.agent(clients, 1)
    resp = await t.session()
    visitor = await clients.visitor(server, session=resp.json(), demo=t.demo)
    conv = (await visitor.send_and_ack("help"))["conv"]
    await a0.recv_event("conv.queued", conv)
    await a0.send_json({"type": "accept", "conv": conv})
    await visitor.recv_event("conv.assigned", conv)
    await a0.send_json(
        {"type": "transfer", "conv": conv, "to_agent": t.agent_id(1), "note": "VIP, refund ok"}
    )
    moved = await a1.recv_event("conv.transferred", conv)
    assert moved["data"]["note"] == "VIP, refund ok"
    seen = await visitor.recv_event("conv.transferred", conv)
    assert "note" not in seen["data"]


async def test_offers_skip_online_agents_who_have_no_connection(
    server: ServerProcess, clients: Clients
) -> None:
    """An agent who chose `online` and then closed the console gets no offers: presence
    says nobody is there to accept, so the conversation goes to a connected agent."""
    t = await new_tenant(server)
    dep = t.department("Billing", [0, 1], policy="round_robin", timeout=30)
    first, second = sorted([0, 1], key=t.agent_id)  # ties break on id: `first` would win
    gone = await t.agent(clients, first)
    await gone.close()
    here = await t.agent(clients, second)
    await asyncio.sleep(0.3)  # the node records the departure in its presence store
    conv = await visitor_writes(t, clients, department=dep)
    offer = await here.recv_until(lambda f: offered_to(f, conv))
    assert offer["data"]["agent"]["id"] == t.agent_id(second)
    assert t.conversation(conv).offered_to == t.agent_id(second)
