"""Frames the server sends to clients (PROTOCOL §4 "Server to client", docs/protocol.md §3).

A client parses leniently where the protocol may grow (unknown fields are ignored, an
unknown event name is kept as a plain :class:`Event`) and strictly where delivery depends
on it (a ``message`` without ``conv`` or ``seq`` is a :class:`~steadywire.errors.BadFrame`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from steadywire import _fields as f
from steadywire.codes import ErrorCode
from steadywire.enums import MessageKind
from steadywire.errors import BadFrame


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote a message or did an action: ``{"type", "id", "name"}``."""

    type: str
    id: str
    name: str = ""

    @classmethod
    def from_wire(cls, raw: Any) -> Sender:
        if not isinstance(raw, Mapping):
            return cls("", "", "")
        name = raw.get("name")
        return cls(
            str(raw.get("type") or ""),
            str(raw.get("id") or ""),
            name if isinstance(name, str) else "",
        )

    def to_wire(self) -> dict[str, Any]:
        return sender_object(self.type, self.id, self.name)


# The shapes of the frames every message passes through (``message``, ``ack``), as plain
# functions too: the server's send path builds them straight from its stored message
# (a fifth of the time of making the frozen objects first: 1.6 us against 8 us), and
# ``to_wire`` below uses the same functions: still one definition of each shape.
def sender_object(type: str, id: str, name: str) -> dict[str, Any]:
    return {"type": type, "id": id, "name": name}


def message_object(
    conv: str,
    id: str,
    seq: int,
    ts: str,
    kind: str,
    body: str,
    html: str,
    cid: str | None,
    sender: dict[str, Any],
    attachments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``message`` frame's object; ``attachments`` only when there are some."""
    wire: dict[str, Any] = {
        "type": "message",
        "conv": conv,
        "id": id,
        "seq": seq,
        "ts": ts,
        "kind": kind,
        "body": body,
        "html": html,
        "cid": cid,
        "sender": sender,
    }
    if attachments:
        wire["attachments"] = attachments
    return wire


def ack_object(cid: str, conv: str, id: str, seq: int, ts: str) -> dict[str, Any]:
    return {"type": "ack", "cid": cid, "conv": conv, "id": id, "seq": seq, "ts": ts}


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    name: str
    size: int
    type: str
    url: str
    expires_at: str

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Attachment:
        return cls(
            f.text(raw, "id"),
            f.text(raw, "name", default=""),
            f.integer(raw, "size", default=0),
            f.text(raw, "type", default=""),
            f.text(raw, "url", default=""),
            f.text(raw, "expires_at", default=""),
        )

    def to_wire(self) -> dict[str, Any]:
        """With ``url`` and ``expires_at`` once signed for a receiver; the metadata alone
        (``{id, name, size, type}``) before, as the server's events carry it."""
        wire: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "type": self.type,
        }
        if self.url or self.expires_at:
            wire["url"] = self.url
            wire["expires_at"] = self.expires_at
        return wire


@dataclass(frozen=True, slots=True)
class Welcome:
    type: ClassVar[str] = "welcome"
    session: str
    node: str
    heartbeat: float
    you: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Welcome:
        heartbeat = raw.get("heartbeat")
        beat = (
            float(heartbeat)
            if isinstance(heartbeat, int | float) and not isinstance(heartbeat, bool)
            else 25.0
        )
        return cls(
            f.text(raw, "session", default=""),
            f.text(raw, "node", default=""),
            beat,
            f.mapping(raw, "you"),
        )

    def to_wire(self) -> dict[str, Any]:
        beat = int(self.heartbeat) if float(self.heartbeat).is_integer() else self.heartbeat
        return {
            "type": self.type,
            "session": self.session,
            "node": self.node,
            "heartbeat": beat,
            "you": dict(self.you),
        }


@dataclass(frozen=True, slots=True)
class Message:
    type: ClassVar[str] = "message"
    conv: str
    id: str
    seq: int
    ts: str
    kind: str
    body: str
    sender: Sender
    html: str = ""
    cid: str | None = None
    attachments: tuple[Attachment, ...] = ()

    @property
    def is_note(self) -> bool:
        return self.kind == MessageKind.NOTE

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Message:
        return cls(
            conv=f.text(raw, "conv", min_len=1),
            id=f.text(raw, "id", default=""),
            seq=f.integer(raw, "seq", minimum=1),
            ts=f.text(raw, "ts", default=""),
            kind=f.text(raw, "kind", default="text"),
            body=f.text(raw, "body", default=""),
            sender=Sender.from_wire(raw.get("sender")),
            html=f.text(raw, "html", default=""),
            cid=f.optional_text(raw, "cid"),
            attachments=_attachments(f.sequence(raw, "attachments")),
        )

    def to_wire(self) -> dict[str, Any]:
        return message_object(
            self.conv, self.id, self.seq, self.ts, self.kind, self.body, self.html, self.cid,
            self.sender.to_wire(), [a.to_wire() for a in self.attachments],
        )  # fmt: skip


def _attachments(rows: list[Any]) -> tuple[Attachment, ...]:
    """A message's attachments; one a client cannot read (no ``id``, a field of the wrong
    type) is left out, not the whole message with it."""
    out = []
    for row in rows:
        if isinstance(row, Mapping):
            try:
                out.append(Attachment.from_wire(row))
            except BadFrame:
                continue
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Ack:
    type: ClassVar[str] = "ack"
    cid: str
    conv: str
    id: str
    seq: int
    ts: str

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Ack:
        return cls(
            f.text(raw, "cid"),
            f.text(raw, "conv"),
            f.text(raw, "id", default=""),
            f.integer(raw, "seq", minimum=1),
            f.text(raw, "ts", default=""),
        )

    def to_wire(self) -> dict[str, Any]:
        return ack_object(self.cid, self.conv, self.id, self.seq, self.ts)


@dataclass(frozen=True, slots=True)
class Batch:
    type: ClassVar[str] = "batch"
    conv: str
    messages: tuple[Message, ...]
    has_more: bool = False

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Batch:
        rows = f.sequence(raw, "messages")
        return cls(
            f.text(raw, "conv"),
            tuple(Message.from_wire(m) for m in rows if isinstance(m, Mapping)),
            f.boolean(raw, "has_more", default=False),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "conv": self.conv,
            "messages": [m.to_wire() for m in self.messages],
            "has_more": self.has_more,
        }


@dataclass(frozen=True, slots=True)
class TypingNotice:
    """``typing`` as relayed by the server, with its ``sender``."""

    type: ClassVar[str] = "typing"
    conv: str
    on: bool
    sender: Sender

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> TypingNotice:
        return cls(
            f.text(raw, "conv"),
            f.boolean(raw, "on", default=False),
            Sender.from_wire(raw.get("sender")),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "conv": self.conv,
            "on": self.on,
            "sender": self.sender.to_wire(),
        }


@dataclass(frozen=True, slots=True)
class ReadNotice:
    """``read`` as relayed by the server, with its ``sender``."""

    type: ClassVar[str] = "read"
    conv: str
    seq: int
    sender: Sender

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> ReadNotice:
        return cls(
            f.text(raw, "conv"),
            f.integer(raw, "seq", minimum=0),
            Sender.from_wire(raw.get("sender")),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "conv": self.conv,
            "seq": self.seq,
            "sender": self.sender.to_wire(),
        }


@dataclass(frozen=True, slots=True)
class Pong:
    type: ClassVar[str] = "pong"

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Pong:
        return cls()

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type}


@dataclass(frozen=True, slots=True)
class Error:
    type: ClassVar[str] = "error"
    code: str
    message: str = ""
    cid: str | None = None
    conv: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # the error's own detail (fields)

    @property
    def error_code(self) -> ErrorCode | None:
        """The code as an enum, or None for a code newer than this package."""
        try:
            return ErrorCode(self.code)
        except ValueError:
            return None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Error:
        return cls(
            f.text(raw, "code"),
            f.text(raw, "message", default=""),
            f.optional_text(raw, "cid"),
            f.optional_text(raw, "conv"),
            {k: v for k, v in raw.items() if k not in _ERROR_FIELDS},
        )

    def to_wire(self) -> dict[str, Any]:
        wire = f.drop_none(
            {
                "type": self.type,
                "code": self.code,
                "message": self.message,
                "cid": self.cid,
                "conv": self.conv,
            }
        )
        wire.update(self.extra)
        return wire


_ERROR_FIELDS = frozenset({"type", "code", "message", "cid", "conv"})
