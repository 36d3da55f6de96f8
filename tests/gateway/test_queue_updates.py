"""While a conversation waits in the queue, agents see each new visitor message."""

from __future__ import annotations

from tests.support.clients import Clients
from tests.support.server import ServerProcess


async def test_waiting_conversation_updates_reach_every_agent(
    server: ServerProcess, clients: Clients
) -> None:
    assert server.demo is not None
    first = await clients.agent(server, server.demo.agents[0], label="agent1")
    second = await clients.agent(server, server.demo.agents[1], label="agent2")
    visitor = await clients.visitor(server, label="visitor")
    conv = (await visitor.send_and_ack("first words"))["conv"]
    for agent in (first, second):
        await agent.recv_event("conv.queued", conv, 10)
    later = await visitor.send_and_ack("still waiting...", conv=conv)
    for agent in (first, second):
        update = await agent.recv_event("conv.updated", conv, 10)
        assert update["data"]["message"]["body"] == "still waiting..."
        assert update["data"]["last_seq"] == later["seq"]
    # Once accepted, nobody gets updates of it any more: the assignee gets messages.
    await first.send_json({"type": "accept", "conv": conv})
    await first.recv_event("conv.assigned", conv, 10)
    await visitor.recv_event("conv.assigned", conv, 10)
    third = await visitor.send_and_ack("thanks", conv=conv)
    await first.recv_until(
        lambda f: f.get("type") == "message" and f.get("seq") == third["seq"], 10
    )
    await second.expect_no_frame(
        lambda f: (
            f.get("type") == "event"
            and f.get("name") == "conv.updated"
            and f["data"]["last_seq"] == third["seq"]
        ),
        within=1.0,
    )
