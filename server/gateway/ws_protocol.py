"""Two corrections to Sanic's WebSocket connection, made by switching each connection to a
subclass when its handler starts (Sanic builds the object itself; the subclass adds no
state, so the switch costs nothing per connection).

- **A text frame that is not UTF-8 closes the connection 1007 at once** (RFC 6455 §8.1).
  Sanic's frame assembler decodes text frames in a task of its own; an invalid one raised
  there, out of anyone's sight, and the reader waited for minutes on a connection that had
  already broken the protocol (issue #11).
- **A lingering close.** After its close frame the server half-closes TCP; Sanic then
  closed the socket at once, and bytes the peer was still sending (the rest of an
  oversized frame, say) met a closed socket, which answers with a reset. A reset can drop
  the close frame before anyone reads it: behind nginx, whose write to the node failed
  first, the client saw 1006 instead of 1009. The socket now stays open, reading and
  discarding, until the peer closes its end or ``LINGER_SECS`` pass — when the peer's
  close frame has not come (after a completed closing handshake it sends nothing more);
  on TLS there is no half-close, and Sanic's own path is kept.
"""

from __future__ import annotations

from typing import Any

from sanic.server.websockets.impl import WebsocketImplProtocol

from server.errors import CloseCode
from server.observability import metrics

# Long enough for a peer that is still sending to read the close frame and close its end.
LINGER_SECS = 2.0


class SteadyWebsocket(WebsocketImplProtocol):
    async def process_events(self, events: Any) -> None:
        try:
            await super().process_events(events)
        except UnicodeDecodeError:
            metrics.CLOSES.labels(str(int(CloseCode.INVALID_DATA))).inc()
            self.fail_connection(CloseCode.INVALID_DATA, "text frame is not UTF-8")

    async def wait_for_connection_lost(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 (Sanic's signature)
    ) -> bool:
        # Sanic's auto-closer asks with no wait right after half-closing TCP, and closes
        # the socket when the answer is no: linger there instead, when the peer may still
        # be sending. Once its close frame is in, it sends nothing more (RFC 6455 §5.5.1),
        # and waiting on a peer that keeps its end open would only hold the socket.
        transport = getattr(self.io_proto, "transport", None)
        if (
            timeout == 0
            and self.ws_proto.close_rcvd is None
            and transport is not None
            and not transport.is_closing()
        ):
            transport.resume_reading()  # fail_connection paused it: read and discard
            timeout = LINGER_SECS
        return await super().wait_for_connection_lost(timeout)


def adopt(ws: WebsocketImplProtocol) -> None:
    """Switch a connection Sanic made to ``SteadyWebsocket`` (only the exact class Sanic
    uses: anything else is left as it is)."""
    if type(ws) is WebsocketImplProtocol:
        ws.__class__ = SteadyWebsocket
