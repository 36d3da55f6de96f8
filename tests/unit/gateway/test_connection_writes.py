"""How a connection writes (server/gateway/connection.py): frames pushed in one loop
iteration leave in one socket write, written by a plain callback when the socket takes
them at once, and by the writer task only when the socket is paused or Sanic's lock is
held. A real socket pair and real WebSocket framing; the stand-in is Sanic's protocol
object, of which the connection uses the lock, the transport and the flow-control event."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from websockets.frames import Opcode
from websockets.protocol import Protocol, Side

from server.gateway.connection import Connection
from server.kernel.actors import Actor
from server.kernel.enums import SenderType
from server.security.ratelimit import SlidingWindow


class _Io(asyncio.Protocol):
    """What the connection uses of Sanic's protocol: transport, send, _can_write, _time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._time = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    async def send(self, data: bytes) -> None:  # as Sanic's: wait for flow control, write
        await self._can_write.wait()
        assert self.transport is not None
        self.transport.write(data)


@dataclass
class _Ws:
    io_proto: _Io
    ws_proto: Protocol = field(default_factory=lambda: Protocol(Side.SERVER))
    conn_mutex: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class Peer:
    """The client's end: every recv() is one socket write of the server."""

    sock: socket.socket
    reader: Protocol = field(default_factory=lambda: Protocol(Side.CLIENT))

    async def frames(self, expected: int) -> tuple[list[bytes], int]:
        """The text frames received until ``expected`` arrived, and in how many reads."""
        loop = asyncio.get_running_loop()
        got: list[bytes] = []
        reads = 0
        while len(got) < expected:
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 1 << 20), 5)
            reads += 1
            self.reader.receive_data(data)
            got += [e.data for e in self.reader.events_received() if e.opcode is Opcode.TEXT]
        return got, reads


@pytest_asyncio.fixture
async def pair() -> AsyncIterator[tuple[Connection, _Ws, Peer]]:
    loop = asyncio.get_running_loop()
    server_sock, client_sock = socket.socketpair()
    client_sock.setblocking(False)
    _, io = await loop.connect_accepted_socket(_Io, server_sock)
    ws = _Ws(io)
    actor = Actor(SenderType.AGENT, "a1", "t1", "Agent")
    conn = Connection(
        ws,  # type: ignore[arg-type]
        actor,
        queue_frames=100,
        send_rate=SlidingWindow(100, 1.0),
        bad_frames=SlidingWindow(100, 1.0),
    )
    yield conn, ws, Peer(client_sock)
    assert io.transport is not None
    io.transport.close()
    client_sock.close()


def _tasks() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


async def test_frames_pushed_together_leave_in_one_write_and_no_task(
    pair: tuple[Connection, _Ws, Peer],
) -> None:
    conn, _, peer = pair
    before = _tasks()
    for n in range(3):
        conn.push(b'{"n":%d}' % n)
    assert _tasks() == before  # nothing but a callback scheduled
    await asyncio.sleep(0)  # the callback writes
    assert conn._writer is None and _tasks() == before
    frames, reads = await peer.frames(3)
    assert frames == [b'{"n":0}', b'{"n":1}', b'{"n":2}'] and reads == 1
    assert conn.held_bytes == 0


async def test_a_paused_socket_hands_the_frames_to_the_writer_task(
    pair: tuple[Connection, _Ws, Peer],
) -> None:
    conn, ws, peer = pair
    ws.io_proto._can_write.clear()  # Sanic's pause_writing: the transport's buffer is full
    conn.push(b'{"n":0}')
    await asyncio.sleep(0)
    assert conn._writer is not None  # the task waits for the socket, the loop does not
    conn.push(b'{"n":1}')
    ws.io_proto._can_write.set()  # resume_writing
    frames, _ = await peer.frames(2)
    assert frames == [b'{"n":0}', b'{"n":1}']
    await asyncio.sleep(0)
    assert conn._writer is None


async def test_frames_wait_for_a_write_in_progress_and_keep_their_order(
    pair: tuple[Connection, _Ws, Peer],
) -> None:
    conn, ws, peer = pair
    async with ws.conn_mutex:  # Sanic is writing (a ping, a close frame)
        conn.push(b'{"n":0}')
        await asyncio.sleep(0)
        assert conn._writer is not None
        conn.push(b'{"n":1}')
        await asyncio.sleep(0.01)
    frames, _ = await peer.frames(2)
    assert frames == [b'{"n":0}', b'{"n":1}']


async def test_without_sanics_flow_control_event_the_writer_task_still_delivers(
    pair: tuple[Connection, _Ws, Peer],
) -> None:
    """``_writable_now`` reads a private attribute of Sanic's protocol (``_can_write``); a
    Sanic that renamed it must cost the fast path only, never a frame."""
    conn, ws, peer = pair
    del ws.io_proto._can_write
    ws.io_proto.send = _send_without_flow_control.__get__(ws.io_proto)  # type: ignore[method-assign]
    for n in range(3):
        conn.push(b'{"n":%d}' % n)
    await asyncio.sleep(0)
    assert conn._writer is not None  # no fast path: the task writes
    frames, _ = await peer.frames(3)
    assert frames == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert conn.held_bytes == 0


async def _send_without_flow_control(self: _Io, data: bytes) -> None:
    assert self.transport is not None
    self.transport.write(data)


async def test_a_websocket_with_only_the_public_send_gets_every_frame() -> None:
    """Without Sanic's lock, protocol and transport objects the connection falls back to
    the public ``send``, a frame at a time, in order."""

    class PublicOnly:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, data: str) -> None:
            await asyncio.sleep(0)
            self.sent.append(data)

    ws = PublicOnly()
    conn = Connection(
        ws,  # type: ignore[arg-type]
        Actor(SenderType.AGENT, "a1", "t1", "Agent"),
        queue_frames=100,
        send_rate=SlidingWindow(100, 1.0),
        bad_frames=SlidingWindow(100, 1.0),
    )
    for n in range(3):
        conn.push(b'{"n":%d}' % n)
    for _ in range(20):
        await asyncio.sleep(0)
    assert ws.sent == ['{"n":0}', '{"n":1}', '{"n":2}'] and conn.held_bytes == 0


def test_only_sanics_own_websocket_class_is_switched() -> None:
    from sanic.server.websockets.impl import WebsocketImplProtocol

    from server.gateway.ws_protocol import SteadyWebsocket, adopt

    sanics = object.__new__(WebsocketImplProtocol)
    adopt(sanics)
    assert type(sanics) is SteadyWebsocket

    class Elsewhere(WebsocketImplProtocol):  # a Sanic that made its own subclass
        pass

    other = object.__new__(Elsewhere)
    adopt(other)
    assert type(other) is Elsewhere  # left as it is: its own close and decoding paths
