"""Disabling an agent on one node closes its WebSockets on every node at once."""

from __future__ import annotations

import time

import pytest

from tests.admin.conftest import call
from tests.cluster.conftest import ClusterMaker
from tests.support.clients import Clients, agent_login, login

pytestmark = [pytest.mark.mysql, pytest.mark.redis]


@pytest.mark.serial
async def test_disable_on_node_a_closes_the_agent_on_node_b(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    cluster = make_cluster(2)
    admin = (await login(cluster.a, cluster.demo.admin))["token"]
    made = await call(
        cluster.a,
        "POST",
        "/api/v1/agents",
        token=admin,
        body={"email": "roaming@example.com", "password": "on two nodes"},
    )
    assert made.status_code == 201, made.text
    session = (await agent_login(cluster.b, "roaming@example.com", "on two nodes")).json()
    on_b = await clients.agent(cluster.b, login_data=session, label="agent@b")
    on_a = await clients.agent(cluster.a, login_data=session, label="agent@a")

    started = time.monotonic()
    resp = await call(cluster.a, "POST", f"/api/v1/agents/{made.json()['id']}/disable", token=admin)
    assert resp.status_code == 200
    assert await on_b.wait_closed(timeout=1.0) == 4401
    assert await on_a.wait_closed(timeout=1.0) == 4401
    assert time.monotonic() - started < 1.5
    me = await call(cluster.b, "GET", "/api/v1/me", token=session["token"])
    assert me.status_code == 401


@pytest.mark.serial
async def test_deleting_a_site_on_node_a_closes_its_visitors_on_node_b(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    """Issue #11: a deleted site's visitors kept working sockets; now 4401 on every node."""
    cluster = make_cluster(2)
    admin = (await login(cluster.a, cluster.demo.admin))["token"]
    made = await call(cluster.a, "POST", "/api/v1/sites", token=admin, body={"name": "gone"})
    assert made.status_code in (200, 201), made.text
    site_key = made.json()["site_key"]
    on_b = await clients.visitor(cluster.b, demo=cluster.demo, site_key=site_key, label="visitor@b")
    kept = await clients.visitor(cluster.b, demo=cluster.demo, label="other-site@b")

    started = time.monotonic()
    resp = await call(cluster.a, "DELETE", f"/api/v1/sites/{site_key}", token=admin)
    assert resp.status_code == 200
    assert await on_b.wait_closed(timeout=2.0) == 4401
    assert time.monotonic() - started < 2.5
    await kept.ping_pong()
