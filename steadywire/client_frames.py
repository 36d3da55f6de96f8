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
from urllib.parse import urlsplit

from steadywire import _fields as f
from steadywire.enums import AgentStatus, MessageKind
from steadywire.errors import BadFrame, InvalidValue

CID_MAX_CHARS = 64
SYNC_LIMIT_DEFAULT = 100
SYNC_LIMIT_MAX = 500
ATTACHMENTS_MAX = 10
ATTACHMENT_ID_MAX_CHARS = 26
TRANSFER_NOTE_MAX_CHARS = 1000
PAGE_URL_MAX_CHARS = 1000
PAGE_TITLE_MAX_CHARS = 300
RATING_COMMENT_MAX_CHARS = 1000


# ``status``'s ``state`` is an agent's status (the name this module has always used).
AgentState = AgentStatus


def _as(raw: Mapping[str, Any]) -> str | None:
    """``as`` is never a bad frame: whatever is not a linked agent's id is the server's
    ``error forbidden`` (BRIDGES.md), so any value but null is kept, a non-string as its
    text (no agent has such an id)."""
    value = raw.get("as")
    if value is None or type(value) is str:
        return value
    return str(value)


@dataclass(frozen=True, slots=True)
class ResumeRefused:
    """An entry of a hello's ``resume`` that a server cannot follow (``conv`` is None
    when ``resume`` itself is not a map)."""

    conv: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Hello:
    type: ClassVar[str] = "hello"
    token: str
    resume: Mapping[str, int] = field(default_factory=dict)
    client: str | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Hello:
        hello, refused = cls.read(raw)
        if refused:
            raise BadFrame(refused[0].message, {"conv": refused[0].conv})
        return hello

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> tuple[Hello, list[ResumeRefused]]:
        """A hello as a server reads it, which refuses no handshake for its fields: a
        token that is not a string reads as ``""`` (refused like any bad token), a
        ``client`` that is not one as absent, and each ``resume`` entry that cannot be
        used comes back beside the frame, to be answered ``bad_frame`` with its ``conv``
        after the welcome (docs/protocol.md)."""
        token, client, resume = raw.get("token"), raw.get("client"), raw.get("resume")
        refused: list[ResumeRefused] = []
        seqs: dict[str, int] = {}
        if isinstance(resume, dict):
            for conv, seq in resume.items():
                if (
                    isinstance(seq, bool)
                    or not isinstance(seq, int)
                    or not f.INT64_MIN <= seq <= f.INT64_MAX
                ):
                    refused.append(ResumeRefused(conv, "resume seqs must be 64-bit integers"))
                else:
                    seqs[conv] = seq
        elif resume is not None:
            refused.append(ResumeRefused(None, "resume must map conversation ids to seqs"))
        hello = cls(
            token if isinstance(token, str) else "",
            seqs,
            client if isinstance(client, str) else None,
        )
        return hello, refused

    def to_wire(self) -> dict[str, Any]:
        return f.drop_none(
            {
                "type": self.type,
                "token": self.token,
                "resume": dict(self.resume),
                "client": self.client,
            }
        )


_KINDS = {str(k): k for k in MessageKind}


# Not frozen: a frozen dataclass sets each field through object.__setattr__, 0.8 µs of a
# send's ~2 µs parse on the server's hottest path. Treat it as immutable all the same.
@dataclass(slots=True)
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
        # The hottest frame: read field by field, each once (no generic reader calls).
        cid = raw.get("cid")
        if type(cid) is not str or not 0 < len(cid) <= CID_MAX_CHARS:
            raise BadFrame(f"cid must be a string of 1 to {CID_MAX_CHARS} characters", raw)
        attachments = raw.get("attachments")
        if attachments is None:
            attached: tuple[str, ...] = ()
        elif (
            type(attachments) is not list
            or len(attachments) > ATTACHMENTS_MAX
            or not all(
                type(a) is str and 0 < len(a) <= ATTACHMENT_ID_MAX_CHARS for a in attachments
            )
        ):
            raise BadFrame(f"attachments must be a list of at most {ATTACHMENTS_MAX} ids", raw)
        else:
            attached = tuple(attachments)
        body = raw.get("body")
        if body is None and attached:
            body = ""
        # Blank is empty: a body of spaces alone is refused as the server always did.
        if type(body) is not str or not (attached or body.strip()):
            raise BadFrame("body must be a non-empty string", raw)
        kind = raw.get("kind")
        if kind is None:
            kind = MessageKind.TEXT
        elif type(kind) is not str or kind not in _KINDS:
            raise BadFrame("kind must be text or note", raw)
        conv = raw.get("conv")
        if conv is not None and type(conv) is not str:
            raise BadFrame("conv must be a string", raw)
        return cls(
            cid,
            body,
            conv,
            _KINDS[kind],
            attached,
            _as(raw) if "as" in raw else None,
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
        # Out-of-range pages are clamped (as the server always did), not refused.
        limit = f.integer(raw, "limit", default=SYNC_LIMIT_DEFAULT)
        return cls(
            f.text(raw, "conv"),
            max(f.integer(raw, "after", default=0), 0),
            max(1, min(limit, SYNC_LIMIT_MAX)),
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
    """An absolute http(s) URL of at most 1,000 characters with a host and no control
    characters; empty counts as absent."""
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise BadFrame(f"{key} is required", raw)
        return None
    if not isinstance(value, str) or len(value) > PAGE_URL_MAX_CHARS:
        raise BadFrame(f"{key} must be a string of at most {PAGE_URL_MAX_CHARS} characters", raw)
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.netloc
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
    ):
        raise BadFrame(f"{key} must be an http(s) URL", raw)
    return value


@dataclass(frozen=True, slots=True)
class Page:
    """Visitors only: the page the visitor's client shows (docs/protocol.md). ``title``
    is the host page's business: control characters are dropped and it is cut to 300.
    ``visitor``, when sent, must name the sender (the server answers forbidden)."""

    type: ClassVar[str] = "page"
    url: str
    title: str | None = None
    referrer: str | None = None
    visitor: str | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Page:
        url = _http_url(raw, "url", required=True)
        assert url is not None
        title = f.optional_text(raw, "title")
        if title:
            title = "".join(ch for ch in title if ord(ch) >= 32)[:PAGE_TITLE_MAX_CHARS].strip()
        visitor = raw.get("visitor")
        return cls(
            url,
            title,
            _http_url(raw, "referrer", required=False),
            None if visitor is None else str(visitor),
        )

    def to_wire(self) -> dict[str, Any]:
        return f.drop_none(
            {
                "type": self.type,
                "url": self.url,
                "title": self.title,
                "referrer": self.referrer,
                "visitor": self.visitor,
            }
        )


@dataclass(frozen=True, slots=True)
class Rate:
    """Visitors only: rate a closed conversation once (CSAT). A rating that is not an
    integer 1 to 5, or a comment that is not a string of at most 1,000 characters, is
    ``bad_request`` (:class:`InvalidValue`), as docs/protocol.md says."""

    type: ClassVar[str] = "rate"
    conv: str
    rating: int
    comment: str | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Rate:
        rating, comment = raw.get("rating"), raw.get("comment")
        if type(rating) is not int or not 1 <= rating <= 5:
            raise InvalidValue("rating must be an integer from 1 to 5", raw)
        if comment is not None and (
            not isinstance(comment, str) or len(comment) > RATING_COMMENT_MAX_CHARS
        ):
            raise InvalidValue(
                f"comment must be a string of at most {RATING_COMMENT_MAX_CHARS} characters", raw
            )
        return cls(f.text(raw, "conv"), rating, comment)

    def to_wire(self) -> dict[str, Any]:
        return f.drop_none(
            {"type": self.type, "conv": self.conv, "rating": self.rating, "comment": self.comment}
        )


@dataclass(frozen=True, slots=True)
class Handoff:
    """Visitors only: ask for a person while the AI robot holds the conversation."""

    type: ClassVar[str] = "handoff"
    conv: str

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Handoff:
        return cls(f.text(raw, "conv"))

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "conv": self.conv}


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
    | Handoff
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
        Handoff,
        Monitor,
    )
}
# Frames that act on a conversation and so carry ``as`` when a bridge sends them.
ACTING_FRAMES = frozenset({"send", "accept", "transfer", "close", "typing", "read"})
