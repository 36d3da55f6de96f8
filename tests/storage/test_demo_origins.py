"""Nodes starting at once each add their own address to the demo site's origins
(``serve`` calls ``admit_serving_origins``): none of the additions may be lost."""

from __future__ import annotations

import json
import threading

import peewee as pw

from server.admin.demo import DEMO_SITE_NAME, admit_serving_origins, ensure_demo
from server.storage.guard import TenantScope
from server.storage.models import Site

NODES = 6  # the fixture pools 8 connections: the test holds one


def test_nodes_starting_at_once_all_get_their_address_in(database: pw.Database) -> None:
    tenant = "demo-race"
    ensure_demo(tenant, "http://127.0.0.1:8800", "a secret key of the install")
    start = threading.Barrier(NODES)
    added: dict[int, list[str]] = {}
    failed: list[BaseException] = []

    def node(port: int) -> None:
        try:
            with database.connection_context():
                start.wait(timeout=30)
                added[port] = admit_serving_origins(tenant, f"http://10.0.0.1:{port}")
        except BaseException as exc:  # reported below, with the thread's name
            failed.append(exc)

    threads = [threading.Thread(target=node, args=(9000 + i,)) for i in range(NODES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failed, failed
    assert added == {9000 + i: [f"http://10.0.0.1:{9000 + i}"] for i in range(NODES)}
    site = TenantScope(tenant).get_or_none(Site, Site.name == DEMO_SITE_NAME)
    assert site is not None
    stored = set(json.loads(site.allowed_origins))
    assert {f"http://10.0.0.1:{9000 + i}" for i in range(NODES)} <= stored
    assert "http://127.0.0.1:8800" in stored, "what demo recorded is kept"
