"""Less memory per held WebSocket (issue #17 item 3): trim what Sanic makes for every
connection but a silent one never uses, and read frames without a task per read.

Measured with tracemalloc per idle visitor connection (docs/benchmarks.md, idle):

- Sanic's frame assembler makes an ``asyncio.Queue`` it never reads (``get`` and ``put``
  use its chunk list and two events): three deques and an ``Event``'s, ~2.9 KB. Dropped.
- An ``asyncio.Event`` keeps its waiters in a deque (~700 B even when empty). The four a
  connection keeps (the assembler's two, the transport's write and read events) get a
  list instead: ``Event`` only appends, removes and iterates it, and at most one task
  waits on each.
- ``ws.recv()`` starts a task per call and waits for it or a cancel future; an idle
  connection holds that task (with its coroutine and weak reference) forever.
  ``receive`` awaits the assembler in the handler's own task; a close frame or an EOF
  cancels it, as they cancel ``recv``.

Everything here leans on Sanic's and asyncio's attributes, so each step checks that they
are what it expects and otherwise leaves the connection as Sanic made it.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.protocol import State


def trim(ws: WebsocketImplProtocol) -> None:
    """Free the per-connection objects a WebSocket is given but does not need."""
    assembler = getattr(ws, "assembler", None)
    if assembler is None:
        return
    if isinstance(getattr(assembler, "completed_queue", None), asyncio.Queue):
        assembler.completed_queue = None
    io = getattr(ws, "io_proto", None)
    for owner, name in (
        (assembler, "message_complete"),
        (assembler, "message_fetched"),
        (io, "_can_write"),
        (io, "_data_received"),
    ):
        event = getattr(owner, name, None)
        if isinstance(event, asyncio.Event):
            _lean_waiters(event)


def _lean_waiters(event: asyncio.Event) -> None:
    waiters = getattr(event, "_waiters", None)
    if type(waiters) is collections.deque and not waiters:
        event._waiters = []  # type: ignore[assignment]


class _CancelRead:
    """Stands in for Sanic's ``recv_cancel`` future: a close frame or an EOF calls
    ``cancel()``, which here cancels the reading task (``recv`` raises CancelledError
    in the same cases)."""

    __slots__ = ("task",)

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task

    def cancel(self) -> bool:
        return self.task.cancel()


def can_receive(ws: WebsocketImplProtocol) -> bool:
    """Whether ``receive`` may be used on ``ws`` (Sanic's attributes are there)."""
    return all(hasattr(ws, name) for name in ("assembler", "recv_cancel", "ws_proto"))


async def receive(ws: WebsocketImplProtocol) -> str | bytes | None:
    """The next message, like ``ws.recv()`` but in the caller's task (only one reader)."""
    if ws.ws_proto.state is State.CLOSED:
        raise ConnectionError("websocket is closed")
    task = asyncio.current_task()
    assert task is not None
    ws.recv_cancel = _CancelRead(task)  # type: ignore[assignment]
    try:
        message: str | bytes | None = await ws.assembler.get()
        return message
    finally:
        ws.recv_cancel = None
