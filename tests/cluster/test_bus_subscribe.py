"""Both ways of listening to Redis (STEADY_BUS_SUBSCRIBE=pattern|topics) deliver every
message across nodes, including to a follower that joins while the stream runs: with
per-topic SUBSCRIBE, what was published before the subscription took effect is re-read
from the database, and the last message of a burst does not wait for a later one."""

from __future__ import annotations

import asyncio

import pytest

from tests.cluster.conftest import ClusterMaker
from tests.support.clients import Clients, send_pipelined

pytestmark = [pytest.mark.mysql, pytest.mark.redis]


@pytest.mark.parametrize("mode", ["pattern", "topics"])
@pytest.mark.timeout(180)
async def test_followers_joining_mid_stream_on_another_node_miss_nothing(
    make_cluster: ClusterMaker, clients: Clients, mode: str
) -> None:
    cluster = make_cluster(2, env={"STEADY_BUS_SUBSCRIBE": mode})
    demo = cluster.demo
    visitor = await clients.visitor(cluster.a, demo=demo, label="visitor@A")
    agent = await clients.agent(cluster.b, demo.agents[0], demo=demo, label="agent@B")
    conv = (await visitor.send_and_ack("first"))["conv"]
    await agent.recv_event("conv.queued", conv, 10)

    burst = asyncio.create_task(send_pipelined(visitor, conv, 200, window=10))
    await asyncio.sleep(0.05)
    await agent.send_json({"type": "accept", "conv": conv})  # follows from here, mid-burst
    # The joiners resume the conversation as its agent, which they may once the accept is
    # stored (before it, the resume is refused and they follow live from the assignment).
    await agent.recv_event("conv.assigned", conv, 10)
    joiners = []
    for i in range(4):  # more connections following the conversation while it streams
        await asyncio.sleep(0.05)
        joiners.append(
            await clients.agent(
                cluster.b, login_data=agent.login, resume={conv: 0}, label=f"tab{i}@B"
            )
        )
    acks = await asyncio.wait_for(burst, 60)
    last = max(a["seq"] for a in acks)
    for client in (agent, *joiners):
        await client.wait_state(
            lambda c=client: max(c.message_seqs(conv), default=0) >= last,
            5,
            f"{client.label} got seq {last}",
        )
        seqs = client.message_seqs(conv)
        assert seqs == list(range(seqs[0], last + 1)), f"{client.label}: gaps in {seqs}"
    assert joiners[0].message_seqs(conv)[0] == 1  # resumed from 0: the whole stream
