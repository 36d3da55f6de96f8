"""A bridge's back-fill is paced by its send queue: many conversations replayed at once on
connect never overflow it (which would close the socket 1013, and again on every retry)."""

from __future__ import annotations

from tests.support.bridges import connect_bridge, new_bridge, seqs_of, token_of
from tests.support.clients import Clients, send_pipelined
from tests.support.server import ServerFactory

CONVERSATIONS = 4
MESSAGES = 100
SMALL_QUEUE_FRAMES = 10  # a bridge's queue is ten times this: 100 frames for 400 messages


async def test_a_backfill_larger_than_the_send_queue_arrives_whole(
    server_factory: ServerFactory, clients: Clients
) -> None:
    server = server_factory()
    assert server.demo is not None
    admin = await token_of(server, server.demo.admin, server.demo)
    bridge = await new_bridge(server, admin)
    convs = []
    for n in range(CONVERSATIONS):
        visitor = await clients.visitor(server, name=f"Backlog {n}")
        first = await visitor.send_and_ack("message 0")
        await send_pipelined(visitor, first["conv"], MESSAGES - 1, window=10)
        convs.append(str(first["conv"]))
        await visitor.close()
    # The same data, served with small send queues (the visitors above had the default).
    server.extra_env["STEADY_SEND_QUEUE_FRAMES"] = str(SMALL_QUEUE_FRAMES)
    await server.arestart()

    ws = await connect_bridge(clients, server, bridge)
    wanted = list(range(1, MESSAGES + 1))
    await ws.wait_state(lambda: all(seqs_of(ws, c) == wanted for c in convs), 30.0,
                        "every conversation replayed")
    assert not ws.closed.is_set()
    await ws.ping_pong()
