"""What the client service reports, as plain dataclasses (no Textual here).

The client calls one callback with these; the Textual app wraps each in a message
(:class:`tui_agent.messages.ServerEvents`). Tests of the client collect them in a list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from steadywire import BadFrame, Event, EventDetails
from tui_agent.models import ChatMessage, ConnectionState, Person


@dataclass(frozen=True)
class ConnectionChanged:
    state: ConnectionState
    attempt: int = 0
    retry_in: float | None = None  # seconds until the next attempt, when reconnecting
    reason: str = ""
    node: str = ""


@dataclass(frozen=True)
class Welcomed:
    you: Mapping[str, Any]
    node: str
    resumed: bool


@dataclass(frozen=True)
class MessagesArrived:
    """Messages of one conversation the console did not have yet, in seq order.

    ``source`` is ``live`` (or replay after resume), ``history`` (a ``sync`` page) or
    ``preview`` (the first messages carried by ``conv.queued``).
    """

    conv: str
    messages: tuple[ChatMessage, ...]
    source: str = "live"


@dataclass(frozen=True)
class HistoryComplete:
    """A ``sync`` of a conversation reached its end (``has_more`` false)."""

    conv: str


@dataclass(frozen=True)
class SendAcked:
    cid: str
    conv: str
    seq: int
    id: str


@dataclass(frozen=True)
class SendFailed:
    """A ``send`` the server refused for good (the text is not stored)."""

    cid: str
    conv: str
    code: str
    message: str


@dataclass(frozen=True)
class ConversationEvent:
    """An ``event`` frame the console understands: ``conv.queued``, ``conv.assigned``,
    ``agent.status``, ... Its data is steadywire's typed view (``ConvQueued``, ...), never
    the raw JSON: the catalogue is the one reader of the wire."""

    name: str
    conv: str
    details: EventDetails


def conversation_event(frame: Event) -> ConversationEvent | None:
    """The one reading of an event's data (client.py calls it for each ``event`` frame).

    None for an event name steadywire does not know (PROTOCOL.md: clients ignore unknown
    types) or data it cannot read; unknown fields were already left out by the parse."""
    try:
        details = frame.details()
    except BadFrame:
        return None
    if details is None:
        return None
    return ConversationEvent(frame.name, frame.conv or "", details)


@dataclass(frozen=True)
class TypingChanged:
    conv: str
    on: bool
    sender: Person


@dataclass(frozen=True)
class ReadReceipt:
    conv: str
    seq: int
    sender: Person


@dataclass(frozen=True)
class ServerError:
    """An ``error`` frame that is not about a pending ``send``."""

    code: str
    message: str
    conv: str = ""
    cid: str = ""


@dataclass(frozen=True)
class AuthExpired:
    """The server refused the token (close 4401): log in again."""

    reason: str


ClientEvent = (
    ConnectionChanged
    | Welcomed
    | MessagesArrived
    | HistoryComplete
    | SendAcked
    | SendFailed
    | ConversationEvent
    | TypingChanged
    | ReadReceipt
    | ServerError
    | AuthExpired
)
EventSink = Callable[[ClientEvent], None]
