"""Two nodes on one MariaDB (and one Redis bus) both sweep expired offers: every expiry is
taken over by exactly one of them, so an agent never gets the same offer twice and the
offers of a conversation are numbered without duplicates."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.routing.support import Tenant, new_tenant, offered_to
from tests.support.clients import Clients
from tests.support.redis_server import PrivateRedis
from tests.support.server import ServerProcess
from tests.support.services import create_mysql_database, drop_mysql_database, require_mysql

pytestmark = pytest.mark.mysql

OPEN_LIMITS = {
    "STEADY_CONN_RATE_IP": "100000",
    "STEADY_WS_RATE_VISITOR": "100000",
    "STEADY_WS_RATE_AGENT": "100000",
}


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    require_mysql()
    database = create_mysql_database()
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    # Both nodes sweep every 20 ms: nearly every expiry is seen by both at once.
    env = {
        **OPEN_LIMITS,
        "STEADY_SECRET_KEY": secrets.token_urlsafe(32),
        "STEADY_OFFER_SWEEP_SECS": "0.02",
    }
    nodes = [
        ServerProcess(
            tmp_path / f"node{n}", database.url, env=env, redis_url=redis.url, name=f"node-{n}"
        )
        for n in "ab"
    ]
    try:
        for node in nodes:
            node.start()
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.stop()
        redis.stop()
        drop_mysql_database(database.name)


async def test_two_sweeps_never_double_offer(
    two_nodes: tuple[ServerProcess, ServerProcess], clients: Clients
) -> None:
    a, b = two_nodes
    t = await new_tenant(a)
    dep = t.department("Everyone", [0, 1], policy="round_robin", timeout=1)
    on_b = Tenant(b, t.demo, t.admin_token, t.agent_tokens)
    agent0 = await t.agent(clients, 0)  # on node a
    agent1 = await on_b.agent(clients, 1)  # on node b
    convs = []
    for n in range(3):
        session = (await t.session(department=dep)).json()
        visitor = await clients.visitor(a if n % 2 else b, session=session, demo=t.demo)
        convs.append((await visitor.send_and_ack(f"help {n}"))["conv"])
    await asyncio.sleep(5.5)  # about five expiries per conversation, raced by two sweeps
    for conv in convs:
        offers = [f for agent in (agent0, agent1) for f in agent.log if offered_to(f, conv)]
        numbers = sorted(f["data"]["offer"] for f in offers)
        assert len(numbers) >= 4, numbers
        assert len(set(numbers)) == len(numbers), f"an offer was announced twice: {numbers}"
        assert numbers == list(range(1, len(numbers) + 1)), numbers
        assert t.conversation(conv).offer_seq in (numbers[-1], numbers[-1] + 1)
        by_expiry = sorted(offers, key=lambda f: f["data"]["expires_at"])
        holders = [f["data"]["agent"]["id"] for f in by_expiry]
        assert all(x != y for x, y in itertools.pairwise(holders)), holders
