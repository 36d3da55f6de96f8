"""``event`` frames: the frame itself and a typed view of each event's ``data``.

``Event.details()`` returns the typed data for the names in :class:`EventName`, or None
for a name this package does not know yet (the protocol grows by adding events; a client
must ignore what it does not understand).

The server builds what it sends from the same classes: ``ConvClosed(by).to_event(conv)``
is the frame's JSON object, with the fields in the order and with the omissions of
docs/protocol.md (an optional field is left out, not sent as null, unless the protocol
says null). ``from_data`` then ``to_event`` gives back the very bytes the server sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    CONV_LABELS = "conv.labels"  # its labels changed (the whole set)
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


def _sender_or_none(raw: Mapping[str, Any], key: str) -> Sender | None:
    value = raw.get(key)
    return Sender.from_wire(value) if isinstance(value, Mapping) else None


def _number(value: float) -> float | int:
    """Whole seconds as the integer the server sends (``30``, not ``30.0``)."""
    return int(value) if float(value).is_integer() else value


def _who(sender: Sender) -> dict[str, Any]:
    """A visitor or agent named by presence events: ``{"type", "id"}`` with no name."""
    return {"type": sender.type, "id": sender.id}


class _Details:
    """What every typed ``data`` has: its event's name and its serialisation."""

    __slots__ = ()
    NAME: ClassVar[str] = ""  # the event's name; PresenceChanged and VisitorCameOrWent vary

    @property
    def name(self) -> str:
        return self.NAME

    def to_data(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_event(self, conv: str | None) -> dict[str, Any]:
        """The ``event`` frame's JSON object (what the server publishes and sends)."""
        return {"type": "event", "name": self.name, "conv": conv, "data": self.to_data()}


@dataclass(frozen=True, slots=True)
class ConvOpened(_Details):
    previous: str | None
    invited_by: Sender | None = None  # after a proactive invite: the agent who invited

    NAME: ClassVar[str] = EventName.CONV_OPENED.value

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvOpened:
        return cls(_str_or_none(data, "previous"), _sender_or_none(data, "invited_by"))

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"previous": self.previous}
        if self.invited_by is not None:
            data["invited_by"] = self.invited_by.to_wire()
        return data


@dataclass(frozen=True, slots=True)
class ConvQueued(_Details):
    visitor: Mapping[str, Any]  # the visitor context; {} when the server had none (null)
    messages: tuple[Message, ...]
    status: str = "queued"
    created_at: str | None = None
    department: str | None = None
    visitor_online: bool | None = None  # added by the server's presence, when it knows

    NAME: ClassVar[str] = EventName.CONV_QUEUED.value

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

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "status": self.status,
            "created_at": self.created_at,
            "visitor": dict(self.visitor) or None,
            "department": self.department,
            "messages": [m.to_wire() for m in self.messages],
        }
        if self.visitor_online is not None:
            data["visitor_online"] = self.visitor_online
        return data


@dataclass(frozen=True, slots=True)
class ConvUpdated(_Details):
    message: Message | None
    last_seq: int | None

    NAME: ClassVar[str] = EventName.CONV_UPDATED.value

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvUpdated:
        raw = data.get("message")
        return cls(
            Message.from_wire(raw) if isinstance(raw, Mapping) else None,
            _seq_or_none(data, "last_seq"),
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "message": self.message.to_wire() if self.message is not None else None,
            "last_seq": self.last_seq,
        }


@dataclass(frozen=True, slots=True)
class ConvAssigned(_Details):
    agent: Sender
    last_seq: int | None
    visitor: Mapping[str, Any] = field(default_factory=dict)
    assignee: Sender | None = None  # who holds it now (an agent, or the AI robot)
    for_agents: bool = False  # the agents' copy: it carries ``visitor`` (null if unknown)
    invited: bool = False  # the assignment of a proactive invite

    NAME: ClassVar[str] = EventName.CONV_ASSIGNED.value

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvAssigned:
        return cls(
            Sender.from_wire(data.get("agent")),
            _seq_or_none(data, "last_seq"),
            f.mapping(data, "visitor"),
            _sender_or_none(data, "assignee"),
            "visitor" in data,
            data.get("invited") is True,
        )

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"agent": self.agent.to_wire()}
        if self.assignee is not None:
            data["assignee"] = self.assignee.to_wire()
        data["last_seq"] = self.last_seq
        if self.for_agents or self.visitor:
            data["visitor"] = dict(self.visitor) or None
        if self.invited:
            data["invited"] = True
        return data


@dataclass(frozen=True, slots=True)
class ConvTransferred(_Details):
    source: Any  # ``from``: whoever held it (an agent object, an id or null)
    to_agent: Any
    to_department: str | None  # its id: the server sends {"id", "name"} (a bare id is read too)
    last_seq: int | None
    note: str | None
    to_department_name: str | None = None
    to_queue: bool = False  # the AI robot handed it to the queue (no department)
    reason: str | None = None  # why the AI robot handed it over

    NAME: ClassVar[str] = EventName.CONV_TRANSFERRED.value

    @property
    def from_sender(self) -> Sender | None:
        """``from`` as a sender, when it is an object (an agent, the AI robot)."""
        return Sender.from_wire(self.source) if isinstance(self.source, Mapping) else None

    @property
    def to_agent_sender(self) -> Sender | None:
        """``to_agent`` as a sender, when it is an object."""
        return Sender.from_wire(self.to_agent) if isinstance(self.to_agent, Mapping) else None

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
            data.get("to_queue") is True,
            _str_or_none(data, "reason"),
        )

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"from": self.source}
        if self.to_agent is not None:
            data["to_agent"] = self.to_agent
        if self.to_department is not None:
            data["to_department"] = {"id": self.to_department, "name": self.to_department_name}
        if self.to_queue:
            data["to_queue"] = True
        optional = {"last_seq": self.last_seq, "note": self.note, "reason": self.reason}
        data.update(f.drop_none(optional))
        return data


@dataclass(frozen=True, slots=True)
class ConvClosed(_Details):
    by: Sender
    csat: bool = False

    NAME: ClassVar[str] = EventName.CONV_CLOSED.value

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvClosed:
        return cls(Sender.from_wire(data.get("by")), data.get("csat") is True)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"by": self.by.to_wire()}
        if self.csat:
            data["csat"] = True
        return data


@dataclass(frozen=True, slots=True)
class ConvRated(_Details):
    rating: int | None
    comment: str | None
    rated_at: str | None

    NAME: ClassVar[str] = EventName.CONV_RATED.value

    def to_data(self) -> dict[str, Any]:
        return {"rating": self.rating, "comment": self.comment, "rated_at": self.rated_at}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvRated:
        return cls(
            _seq_or_none(data, "rating"),
            _str_or_none(data, "comment"),
            _str_or_none(data, "rated_at"),
        )


@dataclass(frozen=True, slots=True)
class ConvLabels(_Details):
    """A conversation's labels after an agent added or removed one: all of them, sorted.

    ``version`` goes one up with each change: of two sets, keep the higher version's
    (events from two nodes may arrive in either order). None from a server before it."""

    labels: tuple[str, ...]
    by: Sender
    version: int | None = None

    NAME: ClassVar[str] = EventName.CONV_LABELS.value

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"labels": list(self.labels), "by": self.by.to_wire()}
        if self.version is not None:
            data["version"] = self.version
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvLabels:
        raw = data.get("labels")
        labels = tuple(x for x in raw if isinstance(x, str)) if isinstance(raw, list) else ()
        version = data.get("version")
        valid = isinstance(version, int) and not isinstance(version, bool)
        return cls(labels, Sender.from_wire(data.get("by")), version if valid else None)

    def newer_than(self, known: int | None) -> bool:
        """Whether this set replaces one of version ``known`` (None: of unknown age)."""
        return self.version is None or known is None or self.version > known


@dataclass(frozen=True, slots=True)
class ConvOffered(_Details):
    agent: Sender
    department: str | None
    timeout_secs: float | None
    expires_at: str | None
    offer: int | None

    NAME: ClassVar[str] = EventName.CONV_OFFERED.value

    def to_data(self) -> dict[str, Any]:
        timeout = self.timeout_secs
        return {
            "agent": self.agent.to_wire(),
            "department": self.department,
            "timeout_secs": _number(timeout) if timeout is not None else None,
            "expires_at": self.expires_at,
            "offer": self.offer,
        }

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
class ConvOfferExpired(_Details):
    agent: str | None

    NAME: ClassVar[str] = EventName.CONV_OFFER_EXPIRED.value

    def to_data(self) -> dict[str, Any]:
        return {"agent": self.agent}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConvOfferExpired:
        return cls(_str_or_none(data, "agent"))


@dataclass(frozen=True, slots=True)
class AgentStatusChanged(_Details):
    agent: Sender
    state: str | None

    NAME: ClassVar[str] = EventName.AGENT_STATUS.value

    def to_data(self) -> dict[str, Any]:
        return {"agent": self.agent.to_wire(), "state": self.state}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> AgentStatusChanged:
        return cls(Sender.from_wire(data.get("agent")), _str_or_none(data, "state"))


@dataclass(frozen=True, slots=True)
class PresenceChanged(_Details):
    """``agent.presence`` and ``visitor.presence``: ``who`` is the agent or the visitor
    (its ``type`` says which, and so names the event)."""

    who: Sender
    connected: bool

    @property
    def name(self) -> str:
        visitor = self.who.type == "visitor"
        return (EventName.VISITOR_PRESENCE if visitor else EventName.AGENT_PRESENCE).value

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> PresenceChanged:
        who = data.get("agent", data.get("visitor"))
        return cls(Sender.from_wire(who), data.get("connected") is True)

    def to_data(self) -> dict[str, Any]:
        kind = "visitor" if self.who.type == "visitor" else "agent"
        return {kind: _who(self.who), "connected": self.connected}


@dataclass(frozen=True, slots=True)
class VisitorSeen(_Details):
    visitor: str | None
    url: str | None
    title: str | None
    referrer: str | None
    at: str | None

    NAME: ClassVar[str] = EventName.VISITOR_SEEN.value

    def to_data(self) -> dict[str, Any]:
        return {
            "visitor": self.visitor,
            "url": self.url,
            "title": self.title,
            "referrer": self.referrer,
            "at": self.at,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> VisitorSeen:
        return cls(*(_str_or_none(data, k) for k in ("visitor", "url", "title", "referrer", "at")))


@dataclass(frozen=True, slots=True)
class VisitorCameOrWent(_Details):
    """``visitor.online`` / ``visitor.offline`` (the event's name says which: ``online``)."""

    visitor: Sender
    at: str | None
    online: bool = True

    @property
    def name(self) -> str:
        return (EventName.VISITOR_ONLINE if self.online else EventName.VISITOR_OFFLINE).value

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> VisitorCameOrWent:
        return cls(Sender.from_wire(data.get("visitor")), _str_or_none(data, "at"))

    @classmethod
    def went_from_data(cls, data: Mapping[str, Any]) -> VisitorCameOrWent:
        return cls(Sender.from_wire(data.get("visitor")), _str_or_none(data, "at"), False)

    def to_data(self) -> dict[str, Any]:
        return {"visitor": _who(self.visitor), "at": self.at}


@dataclass(frozen=True, slots=True)
class MonitorSubscribed(_Details):
    on: bool

    NAME: ClassVar[str] = EventName.MONITOR_SUBSCRIBED.value

    def to_data(self) -> dict[str, Any]:
        return {"on": self.on}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> MonitorSubscribed:
        return cls(data.get("on") is True)


@dataclass(frozen=True, slots=True)
class QueueWaiting:
    """One department's share of ``queue.summary`` (``department`` None: none)."""

    department: str | None
    waiting: int
    oldest_since: str | None  # created_at of the oldest waiting conversation

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> QueueWaiting:
        return cls(
            _str_or_none(data, "department"),
            _seq_or_none(data, "waiting") or 0,
            _str_or_none(data, "oldest_since"),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "waiting": self.waiting,
            "oldest_since": self.oldest_since,
        }


@dataclass(frozen=True, slots=True)
class QueueSummary(_Details):
    """What waits in the queue the agent may serve: the total and per department."""

    waiting: int
    departments: tuple[QueueWaiting, ...] = ()

    NAME: ClassVar[str] = EventName.QUEUE_SUMMARY.value

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

    def to_data(self) -> dict[str, Any]:
        return {"waiting": self.waiting, "departments": [d.to_wire() for d in self.departments]}


EventDetails = (
    ConvOpened
    | ConvQueued
    | ConvUpdated
    | ConvAssigned
    | ConvTransferred
    | ConvClosed
    | ConvRated
    | ConvLabels
    | ConvOffered
    | ConvOfferExpired
    | AgentStatusChanged
    | PresenceChanged
    | VisitorSeen
    | VisitorCameOrWent
    | MonitorSubscribed
    | QueueSummary
)
_DETAILS: dict[str, Callable[[Mapping[str, Any]], EventDetails]] = {
    EventName.CONV_OPENED: ConvOpened.from_data,
    EventName.CONV_QUEUED: ConvQueued.from_data,
    EventName.CONV_UPDATED: ConvUpdated.from_data,
    EventName.CONV_ASSIGNED: ConvAssigned.from_data,
    EventName.CONV_TRANSFERRED: ConvTransferred.from_data,
    EventName.CONV_CLOSED: ConvClosed.from_data,
    EventName.CONV_RATED: ConvRated.from_data,
    EventName.CONV_LABELS: ConvLabels.from_data,
    EventName.CONV_OFFERED: ConvOffered.from_data,
    EventName.CONV_OFFER_EXPIRED: ConvOfferExpired.from_data,
    EventName.AGENT_STATUS: AgentStatusChanged.from_data,
    EventName.AGENT_PRESENCE: PresenceChanged.from_data,
    EventName.VISITOR_PRESENCE: PresenceChanged.from_data,
    EventName.VISITOR_SEEN: VisitorSeen.from_data,
    EventName.VISITOR_ONLINE: VisitorCameOrWent.from_data,
    EventName.VISITOR_OFFLINE: VisitorCameOrWent.went_from_data,
    EventName.MONITOR_SUBSCRIBED: MonitorSubscribed.from_data,
    EventName.QUEUE_SUMMARY: QueueSummary.from_data,
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
        return parser(self.data) if parser is not None else None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Event:
        return cls(
            f.text(raw, "name", min_len=1), f.optional_text(raw, "conv"), f.mapping(raw, "data")
        )

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "conv": self.conv, "data": dict(self.data)}
