"""Frames read in the handler's own task (server/gateway/ws_lean.py, issue #17 item 3):
the connection still ends on a close frame, on a vanished peer and on a close frame while
a frame is being handled, a fragmented message is still assembled, and a connection idle
after the trim still sends and receives."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.support.clients import Clients, new_visitor
from tests.support.cluster import cluster_mode
from tests.support.server import ServerFactory, ServerProcess

VISITOR_SOCKETS = re.compile(r'^steadydesk_ws_connections\{kind="visitor"\} ([0-9.]+)$', re.M)


def _visitor_sockets(server: ServerProcess) -> float:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    found = VISITOR_SOCKETS.search(text)
    return float(found.group(1)) if found else 0.0


async def _until_visitor_sockets(server: ServerProcess, wanted: float) -> None:
    for _ in range(100):
        if _visitor_sockets(server) == wanted:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{_visitor_sockets(server)} visitor sockets, wanted {wanted}")


async def test_connections_end_however_the_peer_leaves(
    backend: str, server_factory: ServerFactory, clients: Clients
) -> None:
    if cluster_mode() or backend != "sqlite":
        pytest.skip("one node's reader: one backend suffices")
    server = server_factory({})
    token = str((await new_visitor(server))["token"])

    async def greeted(label: str):  # type: ignore[no-untyped-def]
        ws = await clients.connect(server, "/ws/visitor", compression=None, label=label)
        await ws.hello(token)
        return ws

    closing, vanishing, busy = [await greeted(f"lean{i}") for i in range(3)]
    await _until_visitor_sockets(server, 3)

    # A fragmented text frame is assembled into one message: a ping answered by a pong.
    await vanishing.ws.send(iter(['{"type":', '"ping"}']))
    await vanishing.recv_type("pong")
    await closing.send_and_ack("after the trim, still heard")

    await closing.close()  # a close frame: the reader is cancelled as recv was
    assert closing.close_code == 1000
    await _until_visitor_sockets(server, 2)
    vanishing.abort()  # no close frame: the transport's loss ends the handler
    await _until_visitor_sockets(server, 1)
    # A close frame right behind a frame that is being handled (a sync reads the store).
    await busy.send_json({"type": "sync", "conv": "c_nonexistent"})
    await busy.close()
    await _until_visitor_sockets(server, 0)
