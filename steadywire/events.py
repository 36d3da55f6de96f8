"""``event`` frames: the frame itself and a typed view of each event's ``data``.

``Event.details()`` returns the typed data for the names in :class:`EventName`, or None
for a name this package does not know yet (the protocol grows by adding events; a client
must ignore what it does not understand).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from steadywire import _fields as f
from steadywire.server_frames import Message, Sender


class EventName(StrEnum):
    CONV_OPENED = "conv.opened"
    CONV_QUEUED = "conv.queued"
    CONV_UPDATED = "conv.updated"
    CONV_ASSIGNED = "conv.assigned"
    CONV_TRANSFERRED = "conv.transferred"
    CONV_CLOSED = "conv.closed"
    CONV_RATED = "conv.rated"
    CONV_OFFERED = "conv.offered"
    CONV_OFFER_EXPIRED = "conv.offer_expired"
    AGENT_STATUS = "agent.status"
    AGENT_PRESENCE = "agent.presence"
    VISITOR_SEEN = "visitor.seen"
    VISITOR_PRESENCE = "visitor.presence"
    VISITOR_ONLINE = "visitor.online"  # the live monitor's feed (admins)
    VISITOR_OFFLINE = "visitor.offline"
    MONITOR_SUBSCRIBED = "monitor.subscribed"
    QUEUE_SUMMARY = "queue.summary"  # waiting counts per department (automatic routing)


def _seq_or_none(raw: Mapping[str, Any], key: str) -> int | None:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class ConvOpened:
    previous: str | None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvOpened:
        return cls(_str_or_none(data, "previous"))


@dataclass(frozen=True, slots=True)
class ConvQueued:
    visitor: Mapping[str, Any]
    messages: tuple[Message, ...]
    status: str = "queued"
    created_at: str | None = None
    department: str | None = None
    visitor_online: bool | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvQueued:
        online = data.get("visitor_online")
        return cls(
            f.mapping(data, "visitor"),
            tuple(
                Message.from_wire(m) for m in f.sequence(data, "messages") if isinstance(m, Mapping)
            ),
            _str_or_none(data, "status") or "queued",
            _str_or_none(data, "created_at"),
            _str_or_none(data, "department"),
            online if isinstance(online, bool) else None,
        )


@dataclass(frozen=True, slots=True)
class ConvUpdated:
    message: Message | None
    last_seq: int | None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvUpdated:
        raw = data.get("message")
        return cls(
            Message.from_wire(raw) if isinstance(raw, Mapping) else None,
            _seq_or_none(data, "last_seq"),
        )


@dataclass(frozen=True, slots=True)
class ConvAssigned:
    agent: Sender
    last_seq: int | None
    visitor: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvAssigned:
        return cls(
            Sender.from_wire(data.get("agent")),
            _seq_or_none(data, "last_seq"),
            f.mapping(data, "visitor"),
        )


@dataclass(frozen=True, slots=True)
class ConvTransferred:
    source: Any  # ``from``: whoever held it (an agent object, an id or null)
    to_agent: Any
    to_department: str | None  # its id: the server sends {"id", "name"} (a bare id is read too)
    last_seq: int | None
    note: str | None
    to_department_name: str | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvTransferred:
        department = data.get("to_department")
        named = department if isinstance(department, Mapping) else {"id": department}
        return cls(
            data.get("from"),
            data.get("to_agent"),
            _str_or_none(named, "id"),
            _seq_or_none(data, "last_seq"),
            _str_or_none(data, "note"),
            _str_or_none(named, "name"),
        )


@dataclass(frozen=True, slots=True)
class ConvClosed:
    by: Sender
    csat: bool = False

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvClosed:
        return cls(Sender.from_wire(data.get("by")), data.get("csat") is True)


@dataclass(frozen=True, slots=True)
class ConvRated:
    rating: int | None
    comment: str | None
    rated_at: str | None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvRated:
        return cls(
            _seq_or_none(data, "rating"),
            _str_or_none(data, "comment"),
            _str_or_none(data, "rated_at"),
        )


@dataclass(frozen=True, slots=True)
class ConvOffered:
    agent: Sender
    department: str | None
    timeout_secs: float | None
    expires_at: str | None
    offer: int | None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvOffered:
        timeout = data.get("timeout_secs")
        return cls(
            Sender.from_wire(data.get("agent")),
            _str_or_none(data, "department"),
            float(timeout) if isinstance(timeout, int | float) else None,
            _str_or_none(data, "expires_at"),
            _seq_or_none(data, "offer"),
        )


@dataclass(frozen=True, slots=True)
class ConvOfferExpired:
    agent: str | None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvOfferExpired:
        return cls(_str_or_none(data, "agent"))


@dataclass(frozen=True, slots=True)
class AgentStatusChanged:
    agent: Sender
    state: str | None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> AgentStatusChanged:
        return cls(Sender.from_wire(data.get("agent")), _str_or_none(data, "state"))


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """``agent.presence`` and ``visitor.presence``: ``who`` is the agent or the visitor."""

    who: Sender
    connected: bool

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> PresenceChanged:
        who = data.get("agent", data.get("visitor"))
        return cls(Sender.from_wire(who), data.get("connected") is True)


@dataclass(frozen=True, slots=True)
class VisitorSeen:
    visitor: str | None
    url: str | None
    title: str | None
    referrer: str | None
    at: str | None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> VisitorSeen:
        return cls(*(_str_or_none(data, k) for k in ("visitor", "url", "title", "referrer", "at")))


@dataclass(frozen=True, slots=True)
class VisitorCameOrWent:
    """``visitor.online`` / ``visitor.offline`` (the event's name says which)."""

    visitor: Sender
    at: str | None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> VisitorCameOrWent:
        return cls(Sender.from_wire(data.get("visitor")), _str_or_none(data, "at"))


@dataclass(frozen=True, slots=True)
class MonitorSubscribed:
    on: bool

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> MonitorSubscribed:
        return cls(data.get("on") is True)


@dataclass(frozen=True, slots=True)
class QueueWaiting:
    """One department's share of ``queue.summary`` (``department`` None: none)."""

    department: str | None
    waiting: int
    oldest_since: str | None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> QueueWaiting:
        return cls(
            _str_or_none(data, "department"),
            _seq_or_none(data, "waiting") or 0,
            _str_or_none(data, "oldest_since"),
        )


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """What waits in the queue the agent may serve: the total and per department."""

    waiting: int
    departments: tuple[QueueWaiting, ...] = ()

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> QueueSummary:
        return cls(
            _seq_or_none(data, "waiting") or 0,
            tuple(
                QueueWaiting.from_data(d)
                for d in f.sequence(data, "departments")
                if isinstance(d, Mapping)
            ),
        )


EventDetails = (
    ConvOpened
    | ConvQueued
    | ConvUpdated
    | ConvAssigned
    | ConvTransferred
    | ConvClosed
    | ConvRated
    | ConvOffered
    | ConvOfferExpired
    | AgentStatusChanged
    | PresenceChanged
    | VisitorSeen
    | VisitorCameOrWent
    | MonitorSubscribed
    | QueueSummary
)
_DETAILS: dict[str, Any] = {
    EventName.CONV_OPENED: ConvOpened,
    EventName.CONV_QUEUED: ConvQueued,
    EventName.CONV_UPDATED: ConvUpdated,
    EventName.CONV_ASSIGNED: ConvAssigned,
    EventName.CONV_TRANSFERRED: ConvTransferred,
    EventName.CONV_CLOSED: ConvClosed,
    EventName.CONV_RATED: ConvRated,
    EventName.CONV_OFFERED: ConvOffered,
    EventName.CONV_OFFER_EXPIRED: ConvOfferExpired,
    EventName.AGENT_STATUS: AgentStatusChanged,
    EventName.AGENT_PRESENCE: PresenceChanged,
    EventName.VISITOR_PRESENCE: PresenceChanged,
    EventName.VISITOR_SEEN: VisitorSeen,
    EventName.VISITOR_ONLINE: VisitorCameOrWent,
    EventName.VISITOR_OFFLINE: VisitorCameOrWent,
    EventName.MONITOR_SUBSCRIBED: MonitorSubscribed,
    EventName.QUEUE_SUMMARY: QueueSummary,
}


@dataclass(frozen=True, slots=True)
class Event:
    type: ClassVar[str] = "event"
    name: str
    conv: str | None
    data: Mapping[str, Any] = field(default_factory=dict)

    def details(self) -> EventDetails | None:
        """The typed ``data`` of a known event name; None for one this package does not know."""
        parser = _DETAILS.get(self.name)
        return parser.from_data(self.data) if parser is not None else None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Event:
        return cls(
            f.text(raw, "name", min_len=1), f.optional_text(raw, "conv"), f.mapping(raw, "data")
        )

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "conv": self.conv, "data": dict(self.data)}
