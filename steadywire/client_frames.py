"""Frames a client sends to the server (PROTOCOL §4 "Client to server", BRIDGES §1 ``as``).

Each class is one ``type``; ``from_wire`` validates a decoded object the way the server
must (typed :class:`~steadywire.errors.BadFrame` on anything wrong) and ``to_wire``
returns the JSON object to send. ``as_agent`` is BRIDGES.md's ``as``: the linked agent a
bridge acts for; it is only written when set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from steadywire import _fields as f
from steadywire.enums import AgentStatus, MessageKind
from steadywire.errors import BadFrame

CID_MAX_CHARS = 64
SYNC_LIMIT_DEFAULT = 100
SYNC_LIMIT_MAX = 500
ATTACHMENTS_MAX = 10
TRANSFER_NOTE_MAX_CHARS = 1000
PAGE_URL_MAX_CHARS = 1000
PAGE_TITLE_MAX_CHARS = 300
RATING_COMMENT_MAX_CHARS = 1000


# ``status``'s ``state`` is an agent's status (the name this module has always used).
AgentState = AgentStatus


def _as(raw: Mapping[str, Any]) -> str | None:
    return f.optional_text(raw, "as", max_len=64)


@dataclass(frozen=True, slots=True)
class Hello:
    type: ClassVar[str] = "hello"
    token: str
    resume: Mapping[str, int] = field(default_factory=dict)
    client: str | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Hello:
        resume = f.mapping(raw, "resume")
        for conv, seq in resume.items():
            if isinstance(seq, bool) or not isinstance(seq, int):
                raise BadFrame("resume seqs must be integers", {"conv": conv})
        return cls(f.text(raw, "token"), resume, f.optional_text(raw, "client"))

    def to_wire(self) -> dict[str, Any]:
        return f.drop_none(
            {
                "type": self.type,
                "token": self.token,
                "resume": dict(self.resume),
                "client": self.client,
            }
        )


@dataclass(frozen=True, slots=True)
class Send:
    type: ClassVar[str] = "send"
    cid: str
    body: str
    conv: str | None = None
    kind: MessageKind = MessageKind.TEXT
    attachments: tuple[str, ...] = ()
    as_agent: str | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Send:
        attachments = f.sequence(raw, "attachments")
        if len(attachments) > ATTACHMENTS_MAX or not all(isinstance(a, str) for a in attachments):
            raise BadFrame(f"attachments must be at most {ATTACHMENTS_MAX} ids", raw)
        body = f.text(raw, "body", default="" if attachments else None)
        if not body and not attachments:
            raise BadFrame("body must not be empty", raw)
        kind = f.choice(raw, "kind", frozenset(MessageKind), default=MessageKind.TEXT)
        return cls(
            cid=f.text(raw, "cid", min_len=1, max_len=CID_MAX_CHARS),
            body=body,
            conv=f.optional_text(raw, "conv"),
            kind=MessageKind(kind),
            attachments=tuple(attachments),
            as_agent=_as(raw),
        )

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"type": self.type, "cid": self.cid, "body": self.body}
        if self.conv is not None:
            wire["conv"] = self.conv
        if self.kind is not MessageKind.TEXT:
            wire["kind"] = str(self.kind)
        if self.attachments:
            wire["attachments"] = list(self.attachments)
        if self.as_agent is not None:
            wire["as"] = self.as_agent
        return wire


@dataclass(frozen=True, slots=True)
class Sync:
    type: ClassVar[str] = "sync"
    conv: str
    after: int = 0
    limit: int = SYNC_LIMIT_DEFAULT

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Sync:
        limit = f.integer(raw, "limit", default=SYNC_LIMIT_DEFAULT, minimum=1)
        return cls(
            f.text(raw, "conv"),
            f.integer(raw, "after", default=0, minimum=0),
            min(limit, SYNC_LIMIT_MAX),
        )

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "conv": self.conv, "after": self.after, "limit": self.limit}


@dataclass(frozen=True, slots=True)
class Typing:
    type: ClassVar[str] = "typing"
    conv: str
    on: bool
    as_agent: str | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Typing:
        return cls(f.text(raw, "conv"), f.boolean(raw, "on"), _as(raw))

    def to_wire(self) -> dict[str, Any]:
        return f.drop_none(
            {"type": self.type, "conv": self.conv, "on": self.on, "as": self.as_agent}
        )


@dataclass(frozen=True, slots=True)
class Read:
    type: ClassVar[str] = "read"
    conv: str
    seq: int
    as_agent: str | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Read:
        return cls(f.text(raw, "conv"), f.integer(raw, "seq", minimum=0), _as(raw))

    def to_wire(self) -> dict[str, Any]:
        return f.drop_none(
            {"type": self.type, "conv": self.conv, "seq": self.seq, "as": self.as_agent}
        )


@dataclass(frozen=True, slots=True)
class Ping:
    type: ClassVar[str] = "ping"

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Ping:
        return cls()

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type}


@dataclass(frozen=True, slots=True)
class Accept:
    type: ClassVar[str] = "accept"
    conv: str
    as_agent: str | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Accept:
        return cls(f.text(raw, "conv"), _as(raw))

    def to_wire(self) -> dict[str, Any]:
        return f.drop_none({"type": self.type, "conv": self.conv, "as": self.as_agent})


@dataclass(frozen=True, slots=True)
class Transfer:
    """An agent hands a conversation to another agent or a department; the AI robot
    hands it to a department or (``to_queue``) the queue, with its ``reason``
    (docs/protocol.md "Sender type ai"). Exactly one target."""

    type: ClassVar[str] = "transfer"
    conv: str
    to_agent: str | None = None
    to_department: str | None = None
    note: str | None = None
    as_agent: str | None = None
    to_queue: bool = False
    reason: str | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Transfer:
        to_agent, to_department = (
            f.optional_text(raw, "to_agent"),
            f.optional_text(raw, "to_department"),
        )
        to_queue = f.boolean(raw, "to_queue", default=False)
        if [to_agent is not None, to_department is not None, to_queue].count(True) != 1:
            raise BadFrame(
                "transfer needs exactly one of to_agent and to_department (the robot's:"
                " or to_queue)",
                raw,
            )
        return cls(
            f.text(raw, "conv"),
            to_agent,
            to_department,
            f.optional_text(raw, "note", max_len=TRANSFER_NOTE_MAX_CHARS),
            _as(raw),
            to_queue,
            f.optional_text(raw, "reason", max_len=64),
        )

    def to_wire(self) -> dict[str, Any]:
        return f.drop_none(
            {
                "type": self.type,
                "conv": self.conv,
                "to_agent": self.to_agent,
                "to_department": self.to_department,
                "to_queue": True if self.to_queue else None,
                "note": self.note,
                "reason": self.reason,
                "as": self.as_agent,
            }
        )


@dataclass(frozen=True, slots=True)
class Close:
    type: ClassVar[str] = "close"
    conv: str
    as_agent: str | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Close:
        return cls(f.text(raw, "conv"), _as(raw))

    def to_wire(self) -> dict[str, Any]:
        return f.drop_none({"type": self.type, "conv": self.conv, "as": self.as_agent})


@dataclass(frozen=True, slots=True)
class Status:
    type: ClassVar[str] = "status"
    state: AgentState

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Status:
        return cls(AgentState(f.choice(raw, "state", frozenset(AgentState), default=None)))

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "state": str(self.state)}


@dataclass(frozen=True, slots=True)
class Monitor:
    """An admin follows (``on``) or stops following the tenant's live-monitor feed."""

    type: ClassVar[str] = "monitor"
    on: bool = True

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Monitor:
        return cls(f.boolean(raw, "on", default=True))

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "on": self.on}


def _http_url(raw: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = (
        f.text(raw, key, max_len=PAGE_URL_MAX_CHARS)
        if required
        else f.optional_text(raw, key, max_len=PAGE_URL_MAX_CHARS)
    )
    if value is not None and not value.lower().startswith(("http://", "https://")):
        raise BadFrame(f"{key} must be an http(s) URL", raw)
    return value


@dataclass(frozen=True, slots=True)
class Page:
    """Visitors only: the page the visitor's client shows (docs/protocol.md)."""

    type: ClassVar[str] = "page"
    url: str
    title: str | None = None
    referrer: str | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Page:
        url = _http_url(raw, "url", required=True)
        assert url is not None
        title = f.optional_text(raw, "title")
        return cls(
            url,
            title[:PAGE_TITLE_MAX_CHARS] if title else title,
            _http_url(raw, "referrer", required=False),
        )

    def to_wire(self) -> dict[str, Any]:
        return f.drop_none(
            {"type": self.type, "url": self.url, "title": self.title, "referrer": self.referrer}
        )


@dataclass(frozen=True, slots=True)
class Rate:
    """Visitors only: rate a closed conversation once (CSAT)."""

    type: ClassVar[str] = "rate"
    conv: str
    rating: int
    comment: str | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Rate:
        rating = f.integer(raw, "rating")
        if not 1 <= rating <= 5:
            raise BadFrame("rating must be 1 to 5", raw)
        return cls(
            f.text(raw, "conv"),
            rating,
            f.optional_text(raw, "comment", max_len=RATING_COMMENT_MAX_CHARS),
        )

    def to_wire(self) -> dict[str, Any]:
        return f.drop_none(
            {"type": self.type, "conv": self.conv, "rating": self.rating, "comment": self.comment}
        )


ClientFrame = (
    Hello
    | Send
    | Sync
    | Typing
    | Read
    | Ping
    | Accept
    | Transfer
    | Close
    | Status
    | Page
    | Rate
    | Monitor
)
CLIENT_FRAMES: dict[str, type[ClientFrame]] = {
    cls.type: cls
    for cls in (
        Hello,
        Send,
        Sync,
        Typing,
        Read,
        Ping,
        Accept,
        Transfer,
        Close,
        Status,
        Page,
        Rate,
        Monitor,
    )
}
# Frames that act on a conversation and so carry ``as`` when a bridge sends them.
ACTING_FRAMES = frozenset({"send", "accept", "transfer", "close", "typing", "read"})
