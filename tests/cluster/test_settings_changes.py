"""An admin's settings change made on one node applies on every node from the next send.

Node B had loaded the tenant's masking policy (off) when the admin turned card masking on
through node A: B's next visitor message must be stored and delivered masked, not only
once B's cached policy times out (15 s: a card number stored in clear meanwhile)."""

from __future__ import annotations

import asyncio

import pytest

from tests.admin.conftest import call
from tests.cluster.conftest import ClusterMaker
from tests.secure.conftest import raw_rows
from tests.support.clients import Clients, login

pytestmark = [pytest.mark.mysql, pytest.mark.redis]

CARD = "card 4111 1111 1111 1111"
MASKED = "card **** **** **** 1111"


async def test_masking_turned_on_through_node_a_masks_the_next_send_on_node_b(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    cluster = make_cluster(2)
    visitor = await clients.visitor(cluster.b, demo=cluster.demo, label="visitor@b")
    first = await visitor.send_and_ack("hello")  # node B loads (and keeps) the policy: off
    await visitor.recv_type("message", cid=first["cid"])
    admin = (await login(cluster.a, cluster.demo.admin))["token"]

    saved = await call(
        cluster.a, "PUT", "/api/v1/settings", token=admin, body={"masking": {"cards": True}}
    )
    assert saved.status_code == 200, saved.text
    await asyncio.sleep(0.3)  # the announcement crosses Redis (a round trip or two)

    ack = await visitor.send_and_ack(CARD)
    assert (await visitor.recv_type("message", cid=ack["cid"]))["body"] == MASKED
    assert raw_rows(cluster.b, "SELECT body FROM message WHERE id = ?", (ack["id"],)) == [
        (MASKED,)
    ]

    # And back off again: B stores the next card number as it is written.
    saved = await call(
        cluster.a, "PUT", "/api/v1/settings", token=admin, body={"masking": {"cards": False}}
    )
    assert saved.status_code == 200, saved.text
    await asyncio.sleep(0.3)
    ack = await visitor.send_and_ack(CARD)
    assert (await visitor.recv_type("message", cid=ack["cid"]))["body"] == CARD
