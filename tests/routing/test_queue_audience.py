"""A waiting conversation of a staffed department is shown only to the agents who may
serve it (its members) and to admins: its card, its updates and the queue replayed on
hello (issue #17, item 1). Without a department, or in a department without members,
every agent sees it (tests/gateway/test_queue_updates.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.routing.support import Tenant, new_tenant
from tests.support.clients import Clients, WsClient
from tests.support.server import ServerProcess


def queue_event_of(conv: str) -> Any:
    return lambda f: (
        f.get("type") == "event"
        and f.get("name") in ("conv.queued", "conv.updated")
        and f.get("conv") == conv
    )


async def admin_desk(t: Tenant, clients: Clients) -> WsClient:
    return await clients.agent(
        t.server, t.demo.admin, demo=t.demo, login_data={"token": t.admin_token}, label="admin"
    )


async def test_staffed_department_queue_reaches_its_members_and_admins_only(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Sales", [0])
    member, outsider = await t.agent(clients, 0), await t.agent(clients, 1)
    admin = await admin_desk(t, clients)
    resp = await t.session(department=dep)
    assert resp.status_code == 200, resp.text
    visitor = await clients.visitor(t.server, session=resp.json(), demo=t.demo)
    conv = str((await visitor.send_and_ack("a quote, please"))["conv"])
    for desk in (member, admin):
        queued = await desk.recv_event("conv.queued", conv, 10)
        assert queued["data"]["department"] == dep
    later = await visitor.send_and_ack("for 40 seats", conv=conv)
    for desk in (member, admin):
        update = await desk.recv_event("conv.updated", conv, 10)
        assert update["data"]["last_seq"] == later["seq"]
    await outsider.expect_no_frame(queue_event_of(conv), within=1.0)

    # The queue replayed on hello follows the same rule.
    member_again, outsider_again = await t.agent(clients, 0), await t.agent(clients, 1)
    await member_again.recv_event("conv.queued", conv, 10)
    await outsider_again.expect_no_frame(queue_event_of(conv), within=1.0)

    # Everyone still hears the assignment (it takes the card off any queue shown).
    await member.send_json({"type": "accept", "conv": conv})
    for desk in (member, outsider, admin):
        await desk.recv_event("conv.assigned", conv, 10)


async def test_card_comes_before_its_assignment_and_offer(
    server: ServerProcess, clients: Clients
) -> None:
    """Queue cards are held a moment to share a write; nothing about the conversation may
    overtake its card."""
    t = await new_tenant(server)
    dep = t.department("Support", [0, 1], policy="round_robin")
    first, second = await t.agent(clients, 0), await t.agent(clients, 1)
    resp = await t.session(department=dep)
    visitor = await clients.visitor(t.server, session=resp.json(), demo=t.demo)
    conv = str((await visitor.send_and_ack("hello"))["conv"])
    # Automatic routing: only the agent offered it gets the card, and before the offer.
    firsts = await asyncio.gather(*(first_event_about(d, conv, 5) for d in (first, second)))
    names = sorted(f["name"] if f else "" for f in firsts)
    assert names == ["", "conv.queued"], names
    offered = (first, second)[0 if firsts[0] else 1]
    offer = await offered.recv_event("conv.offered", conv, 10)
    assert offer["data"]["department"] == dep


async def first_event_about(desk: WsClient, conv: str, within: float) -> Any:
    """The first event about ``conv`` on ``desk``, or None if none came ``within``."""
    try:
        return await desk.recv_until(
            lambda f: f.get("conv") == conv and f.get("type") == "event", within
        )
    except AssertionError:
        return None
