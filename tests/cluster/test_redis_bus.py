"""Two nodes over one MariaDB and one (private) Redis: traffic crosses nodes, and a Redis
restart or stall mid-stream loses nothing that was acked."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from tests.cluster.conftest import Cluster, ClusterMaker
from tests.support.clients import WsClient, login, new_visitor

pytestmark = [pytest.mark.mysql, pytest.mark.redis]


@pytest.fixture
def cluster(make_cluster: ClusterMaker) -> Cluster:
    return make_cluster(2)


async def _pair(cluster: Cluster) -> tuple[WsClient, WsClient, str]:
    """A visitor on node A and an agent on node B, the conversation accepted."""
    visitor_session = await new_visitor(cluster.a)
    visitor = await WsClient.connect(cluster.a.ws_url + "/ws/visitor", label="visitor@A")
    await visitor.hello(visitor_session["token"])
    agent_login = await login(cluster.b, cluster.demo.agents[0], demo=cluster.demo)
    agent = await WsClient.connect(cluster.b.ws_url + "/ws/agent", label="agent@B")
    await agent.hello(agent_login["token"])
    first = await visitor.send_and_ack("hello from node A")
    conv = first["conv"]
    await agent.recv_event("conv.queued", conv=conv, timeout=10)
    await agent.send_json({"type": "accept", "conv": conv})
    await agent.recv_event("conv.assigned", conv=conv, timeout=10)
    await visitor.recv_event("conv.assigned", conv=conv, timeout=10)
    return visitor, agent, conv


async def test_both_directions_typing_and_read_cross_nodes(cluster: Cluster) -> None:
    visitor, agent, conv = await _pair(cluster)
    try:
        sent = await visitor.send_and_ack("second, via Redis", conv=conv)
        got = await agent.recv_until(
            lambda f: f.get("type") == "message" and f.get("seq") == sent["seq"], timeout=10
        )
        assert got["body"] == "second, via Redis"
        reply = await agent.send_and_ack("answer from node B", conv=conv)
        back = await visitor.recv_until(
            lambda f: f.get("type") == "message" and f.get("seq") == reply["seq"], timeout=10
        )
        assert back["sender"]["type"] == "agent"
        await visitor.send_json({"type": "typing", "conv": conv, "on": True})
        typing = await agent.recv_type("typing", timeout=10)
        assert typing["on"] is True and typing["sender"]["type"] == "visitor"
        await agent.send_json({"type": "read", "conv": conv, "seq": sent["seq"]})
        read = await visitor.recv_type("read", timeout=10)
        assert read["seq"] == sent["seq"] and read["sender"]["type"] == "agent"
    finally:
        await visitor.close()
        await agent.close()


async def _stream(visitor: WsClient, conv: str, count: int, acked: list[int]) -> None:
    """Send ``count`` messages, resending on any error, until each is acked."""
    for index in range(count):
        while True:
            try:
                ack = await visitor.send_and_ack(f"stream {index}", conv=conv, timeout=15)
                acked.append(ack["seq"])
                break
            except AssertionError:
                await asyncio.sleep(0.2)  # an error frame (storage or bus trouble): send again
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("fault", ["restart", "pause"])
async def test_redis_fault_mid_stream_loses_nothing(cluster: Cluster, fault: str) -> None:
    visitor, agent, conv = await _pair(cluster)
    acked: list[int] = []
    try:
        sender = asyncio.create_task(_stream(visitor, conv, 120, acked))
        await asyncio.sleep(0.5)
        assert cluster.redis.proc is not None
        if fault == "restart":
            port = cluster.redis.port
            cluster.redis.stop()
            await asyncio.sleep(1.5)
            cluster.redis.port = port
            cluster.redis.start()
        else:
            os.kill(cluster.redis.proc.pid, signal.SIGSTOP)
            await asyncio.sleep(4)
            os.kill(cluster.redis.proc.pid, signal.SIGCONT)
        await asyncio.wait_for(sender, 60)
        last = max(acked)
        # Delivery resumes within seconds and the agent ends with every seq exactly once.
        await agent.wait_state(lambda: last in agent.message_seqs(conv), timeout=15)
        seqs = agent.message_seqs(conv)
        assert seqs == sorted(set(seqs)), "duplicates or disorder on the agent connection"
        assert set(acked) <= set(seqs)
        history = await agent.history(conv)
        stored = [m["seq"] for m in history]
        assert stored == list(range(1, len(stored) + 1))
        assert sorted(m["body"] for m in history if m["body"].startswith("stream ")) == sorted(
            f"stream {i}" for i in range(120)
        )
    finally:
        await visitor.close()
        await agent.close()


def test_a_nonce_used_on_one_node_is_refused_on_the_other(cluster: Cluster) -> None:
    import httpx

    from tests.gateway.test_signed_requests import _signed

    path = "/api/v1/agents"
    headers = _signed(cluster.demo.api_key, cluster.demo.api_secret, "GET", path)
    assert httpx.get(cluster.a.url + path, headers=headers, timeout=10).status_code == 200
    replay = httpx.get(cluster.b.url + path, headers=headers, timeout=10)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "replayed_request"
