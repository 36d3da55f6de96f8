"""The protocol suite's three-node topology (``ClusterServer``: three nodes, one MariaDB
database, a private Redis, nginx in front) losing one node mid-stream: its clients come
back through nginx to the two others, and the checker finds nothing acked lost or doubled.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.test_failover import _node_of, _recover_and_check, _writers
from tests.conftest import SHARED_SERVER_ENV
from tests.support.clients import Clients
from tests.support.cluster import TOPOLOGY_ENV, ClusterServer, cluster_mode
from tests.support.services import create_mysql_database, drop_mysql_database

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.redis,
    pytest.mark.slow,
    # Part of the three-node mode (task test-cluster); test_failover covers two nodes by default.
    pytest.mark.skipif(not cluster_mode(), reason=f"runs with {TOPOLOGY_ENV}=cluster3"),
]


@pytest.fixture
def cluster3(tmp_path: Path) -> Iterator[ClusterServer]:
    database = create_mysql_database()
    cluster = ClusterServer(tmp_path, database.url, env=SHARED_SERVER_ENV, name="c3")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        drop_mysql_database(database.name)


@pytest.mark.timeout(300)
async def test_killing_one_of_three_nodes_mid_stream_loses_nothing(
    cluster3: ClusterServer, clients: Clients
) -> None:
    writers = await _writers(clients, cluster3, pairs=6)
    spread = Counter(_node_of(w.client) for w in writers)
    assert len(spread) == 3, f"nginx did not spread the clients over three nodes: {spread}"
    victim = next(i for i, n in enumerate(cluster3.nodes) if n.node_name in spread)
    dead = cluster3.nodes[victim].node_name
    on_victim = [w for w in writers if _node_of(w.client) == dead]
    others = [w for w in writers if w not in on_victim]

    stop = asyncio.Event()
    running = [asyncio.create_task(w.run(stop)) for w in writers]
    await asyncio.sleep(1.0)
    before = {w.label: len(w.acked) for w in others}
    await asyncio.to_thread(cluster3.kill_node, victim)
    for w in on_victim:
        await w.client.wait_closed(timeout=10)
    await asyncio.sleep(1.5)  # the survivors keep going meanwhile
    stop.set()
    await asyncio.wait_for(asyncio.gather(*running), 40)

    assert sum(len(w.acked) for w in writers) > 30, "too little traffic before the kill"
    assert all(not w.client.closed.is_set() for w in others), "a surviving node dropped clients"
    assert any(len(w.acked) > before[w.label] for w in others), "survivors stalled after the kill"
    await _recover_and_check(writers)
    for w in on_victim:
        assert _node_of(w.client) != dead, "reconnected to the dead node"
