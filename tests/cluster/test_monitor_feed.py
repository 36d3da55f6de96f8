"""The live monitor across nodes: an admin on node B follows a visitor connected to node A
(the feed through the Redis bus, the snapshot from the shared presence)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.conftest import ClusterMaker
from tests.support.clients import Clients, get

pytestmark = [pytest.mark.mysql, pytest.mark.redis]

FAST_PRESENCE = {"STEADY_PRESENCE_REFRESH_SECS": "0.5", "STEADY_PRESENCE_DEBOUNCE_SECS": "0.5"}


def feed(name: str, visitor: str) -> Any:
    def match(f: dict[str, Any]) -> bool:
        who = (f.get("data") or {}).get("visitor")
        ident = who.get("id") if isinstance(who, dict) else who
        return f["type"] == "event" and f.get("name") == name and ident == visitor
    return match


@pytest.mark.timeout(120)
async def test_admin_on_b_sees_a_visitor_of_a(make_cluster: ClusterMaker, clients: Clients) -> None:
    cluster = make_cluster(2, env=FAST_PRESENCE)
    demo = cluster.demo
    lead = await clients.agent(cluster.b, demo.admin, demo=demo, label="admin@B")
    await lead.send_json({"type": "monitor", "on": True})
    await lead.recv_event("monitor.subscribed")
    visitor = await clients.visitor(cluster.a, demo=demo, name="Remote Rae", label="visitor@A")
    vid = visitor.session["visitor_id"]
    await lead.recv_until(feed("visitor.online", vid), 10)
    await visitor.send_json({"type": "page", "url": "https://shop.example/a", "title": "On A"})
    seen = await lead.recv_until(feed("visitor.seen", vid), 10)
    assert seen["data"]["title"] == "On A"

    auth = {"Authorization": f"Bearer {lead.login['token']}"}
    resp = await get(cluster.b, "/api/v1/monitor/visitors", headers=auth)
    assert resp.status_code == 200, resp.text
    row = next(v for v in resp.json()["visitors"] if v["id"] == vid)
    assert row["url"] == "https://shop.example/a"

    await visitor.close()
    await lead.recv_until(feed("visitor.offline", vid), 10)
    resp = await get(cluster.b, "/api/v1/monitor/visitors", headers=auth)
    assert vid not in [v["id"] for v in resp.json()["visitors"]]
