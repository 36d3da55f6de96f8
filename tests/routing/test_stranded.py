"""Conversations nobody ever offered are found by the sweep: a node that dies between a
first message's commit and its offer leaves one behind, and so does a waiting chat when
no event (an agent coming online, a close) follows. Simulated by switching a manual
department to round robin in the database, where no trigger fires."""

from __future__ import annotations

import datetime as dt

from server.storage.guard import TenantScope
from server.storage.models import Conversation, Department
from tests.routing.support import new_tenant, offered_to, with_db
from tests.routing.test_offers import visitor_writes
from tests.support.clients import Clients
from tests.support.server import ServerProcess


async def test_the_sweep_offers_a_conversation_that_was_never_offered(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Stranded", [0], policy="manual")
    agent = await t.agent(clients, 0)
    conv = await visitor_writes(t, clients, department=dep)
    await agent.expect_no_frame(lambda f: offered_to(f, conv), within=0.5)
    backdated = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=30)

    def strand() -> None:
        scope = TenantScope(t.id)
        scope.update(Department, policy="round_robin").where(Department.id == dep).execute()
        scope.update(Conversation, created_at=backdated).where(Conversation.id == conv).execute()

    with_db(server, strand)
    offer = await agent.recv_until(lambda f: offered_to(f, conv), timeout=10)
    assert offer["data"]["agent"]["id"] == t.agent_id(0)
    assert t.conversation(conv).offered_to == t.agent_id(0)


async def test_manual_queues_do_not_starve_automatic_ones(
    server: ServerProcess, clients: Clients
) -> None:
    """More waiting chats in a manual department than one batch of offers must not hide
    a round-robin chat behind them when an agent comes online."""
    t = await new_tenant(server)
    manual = t.department("Manual", [1], policy="manual")
    auto = t.department("Auto", [0], policy="round_robin")
    for i in range(51):  # one more than offers.WAITING_BATCH, all older than the auto one
        await visitor_writes(t, clients, f"manual {i}", department=manual)
    conv = await visitor_writes(t, clients, "auto", department=auto)
    agent = await t.agent(clients, 0)  # comes online now: the waiting chats are offered
    offer = await agent.recv_until(lambda f: offered_to(f, conv), timeout=2.5)
    assert offer["data"]["agent"]["id"] == t.agent_id(0)
