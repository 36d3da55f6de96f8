"""With automatic routing the full card of a waiting conversation goes only to the agent
offered it (and admins); the other agents who may serve it count it in ``queue.summary``,
and an agent who may not serve it gets neither (issue #17, item 1). The REST queue of an
agent covers what its summary counts (item 2)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.routing.support import Tenant, new_tenant
from tests.routing.test_queue_audience import admin_desk, first_event_about, queue_event_of
from tests.support.clients import Clients, WsClient
from tests.support.server import ServerProcess


def summary_with(waiting: int) -> Any:
    return lambda f: (
        f.get("type") == "event"
        and f.get("name") == "queue.summary"
        and f["data"]["waiting"] == waiting
    )


async def started(
    t: Tenant, clients: Clients, dep: str, body: str = "hello"
) -> tuple[WsClient, str]:
    resp = await t.session(department=dep)
    assert resp.status_code == 200, resp.text
    visitor = await clients.visitor(t.server, session=resp.json(), demo=t.demo)
    return visitor, str((await visitor.send_and_ack(body))["conv"])


async def rest_queue(t: Tenant, token: str) -> dict[str, Any]:
    resp = await t.call("GET", "/conversations?status=queued", token)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_offered_agent_gets_the_card_the_others_a_summary(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Support", [0, 1], policy="round_robin")
    desks = await t.agent(clients, 0), await t.agent(clients, 1)
    admin = await admin_desk(t, clients)
    visitor, conv = await started(t, clients, dep)

    firsts = await asyncio.gather(*(first_event_about(d, conv, 5) for d in desks))
    assert sorted(f["name"] if f else "" for f in firsts) == ["", "conv.queued"], firsts
    offered, other = desks if firsts[0] else desks[::-1]
    card = offered.frames_about(conv)[0]
    assert card["name"] == "conv.queued" and card["data"]["messages"], card
    await offered.recv_event("conv.offered", conv, 10)
    await admin.recv_event("conv.queued", conv, 10)  # supervisors see every card

    summary = await other.recv_until(summary_with(1), 10)
    [entry] = summary["data"]["departments"]
    assert entry["department"] == dep and entry["waiting"] == 1
    assert entry["oldest_since"] == card["data"]["created_at"]
    await offered.recv_until(summary_with(1), 10)

    # Later messages follow the card: to whom has it, not to the others.
    later = await visitor.send_and_ack("anyone?", conv=conv)
    update = await offered.recv_event("conv.updated", conv, 10)
    assert update["data"]["last_seq"] == later["seq"]
    await admin.recv_event("conv.updated", conv, 10)
    await other.expect_no_frame(queue_event_of(conv), within=1.0)

    # The queue replayed on hello: the same rule.
    other_again = await t.agent(clients, desks.index(other), online=False)
    await other_again.recv_until(summary_with(1), 10)
    await other_again.expect_no_frame(queue_event_of(conv), within=1.0)
    offered_again = await t.agent(clients, desks.index(offered), online=False)
    await offered_again.recv_event("conv.queued", conv, 10)

    # Taken: everyone hears it and the summaries go to zero.
    await offered.send_json({"type": "accept", "conv": conv})
    for desk in (offered, other, admin):
        await desk.recv_event("conv.assigned", conv, 10)
        await desk.recv_until(summary_with(0), 10)


async def test_next_offer_brings_the_card_to_the_next_agent(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Support", [0, 1], policy="round_robin", timeout=1)
    desks = await t.agent(clients, 0), await t.agent(clients, 1)
    _, conv = await started(t, clients, dep)
    # Not accepted within a second, the offer moves on: each agent in turn gets the card
    # (once), then its offer.
    for desk in desks:
        about = [f for f in await events_about(desk, conv, 2) if f["name"] != "conv.offer_expired"]
        assert [f["name"] for f in about[:2]] == ["conv.queued", "conv.offered"], about
        assert "conv.queued" not in [f["name"] for f in about[2:]], about


async def events_about(desk: WsClient, conv: str, count: int) -> list[Any]:
    """The first ``count`` offers of ``conv`` to ``desk``, and every event about it so far."""
    for _ in range(count):
        await desk.recv_event("conv.offered", conv, 10)
    return [f for f in desk.frames_about(conv) if f.get("type") == "event"]


async def test_agent_outside_the_department_gets_neither_card_nor_count(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Sales", [0], policy="round_robin")
    member, outsider = await t.agent(clients, 0), await t.agent(clients, 1)
    _, conv = await started(t, clients, dep)
    await member.recv_event("conv.queued", conv, 10)
    await member.recv_event("conv.offered", conv, 10)
    await member.recv_until(summary_with(1), 10)
    await outsider.expect_no_frame(queue_event_of(conv), within=1.5)
    await outsider.expect_no_frame(summary_with(1), within=0.1)
    for frame in outsider.frames_about(conv):
        assert frame.get("name") != "conv.offered", frame
    # Nor over REST: its queue is what it may serve.
    assert (await rest_queue(t, t.agent_tokens[1]))["total"] == 0
    assert (await rest_queue(t, t.agent_tokens[0]))["total"] == 1
    assert (await rest_queue(t, t.admin_token))["total"] == 1


async def test_manual_queue_keeps_full_cards_and_counts_agree_with_rest(
    server: ServerProcess, clients: Clients
) -> None:
    """Pull routing: every agent who may serve it gets the card, as before, and no summary
    (nothing routes itself); the REST queue listing counts the same conversations as the
    cards (the console's count)."""
    t = await new_tenant(server)
    sales = t.department("Sales", [0])
    support = t.department("Support", [1])
    member, outsider = await t.agent(clients, 0), await t.agent(clients, 1)
    _, conv = await started(t, clients, sales)
    _, other_conv = await started(t, clients, support)
    await member.recv_event("conv.queued", conv, 10)
    listed = await rest_queue(t, t.agent_tokens[0])
    assert listed["total"] == 1
    assert [c["id"] for c in listed["conversations"]] == [conv]
    await outsider.recv_event("conv.queued", other_conv, 10)
    await outsider.expect_no_frame(queue_event_of(conv), within=0.5)
    for desk in (member, outsider):
        await desk.expect_no_frame(lambda f: f.get("name") == "queue.summary", within=0.1)
