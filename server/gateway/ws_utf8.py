"""Close a connection 1007 when a text frame is not UTF-8 (RFC 6455 §8.1).

Sanic's frame assembler decodes text frames in a task of its own; an invalid one raises
there, out of anyone's sight, and the message is never completed: the reader waited for
minutes on a connection that had already broken the protocol (issue #11). This wraps the
connection's ``process_events`` (Sanic's own method, which hands frames to the assembler)
to fail the connection with 1007 at once instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sanic.server.websockets.impl import WebsocketImplProtocol

from server.errors import CloseCode
from server.observability import metrics


def close_on_invalid_utf8(ws: WebsocketImplProtocol) -> None:
    process: Callable[[Any], Awaitable[None]] | None = getattr(ws, "process_events", None)
    if process is None:
        return

    async def checked(events: Any) -> None:
        try:
            await process(events)
        except UnicodeDecodeError:
            metrics.CLOSES.labels(str(int(CloseCode.INVALID_DATA))).inc()
            ws.fail_connection(CloseCode.INVALID_DATA, "text frame is not UTF-8")

    ws.process_events = checked  # type: ignore[method-assign]
