"""Protocol records as the console sees them: parsed once from wire JSON, then immutable.

Parsing is lenient on purpose: a field the server leaves out (or a newer server adds)
must not crash the console, so every reader falls back to an empty value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# The wire's enums, from steadywire (re-exported: the console's modules import them here).
from steadywire.enums import AgentStatus as AgentStatus
from steadywire.enums import ConversationStatus as ConversationStatus
from steadywire.enums import MessageKind as MessageKind
from steadywire.enums import SenderType as SenderType
from steadywire.server_frames import Attachment, Message, Sender
from tui_agent.attachments import ATTACHMENTS_SHOWN, attachments_from_wire


class ConnectionState(StrEnum):
    OFFLINE = "offline"  # not started, or stopped
    CONNECTING = "connecting"  # first connection of this session
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    RESUMED = "resumed"  # connected again, missed messages replayed


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _map(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Person:
    """A sender or an assignee: ``{type, id, name}`` on the wire."""

    type: str
    id: str
    name: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], default_type: str = "") -> Person:
        return cls(_str(data, "type") or default_type, _str(data, "id"), _str(data, "name"))

    @classmethod
    def of(cls, sender: Sender, default_type: str = "") -> Person:
        """A sender steadywire parsed (a frame's ``sender``, an event's ``by``, ...)."""
        return cls(sender.type or default_type, sender.id, sender.name)


@dataclass(frozen=True)
class ChatMessage:
    conv: str
    id: str
    seq: int
    ts: str
    kind: str
    body: str
    cid: str
    sender: Person
    attachments: tuple[Attachment, ...] = ()

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ChatMessage:

        return cls(
            conv=_str(data, "conv"),
            id=_str(data, "id"),
            seq=_int(data, "seq"),
            ts=_str(data, "ts"),
            kind=_str(data, "kind") or MessageKind.TEXT,
            body=_str(data, "body"),
            cid=_str(data, "cid"),
            sender=Person.from_wire(_map(data, "sender")),
            attachments=attachments_from_wire(data.get("attachments")),
        )

    @classmethod
    def from_message(cls, message: Message) -> ChatMessage:
        """A ``message`` frame (alone, in a ``batch`` or an event) steadywire parsed."""
        return cls(
            conv=message.conv,
            id=message.id,
            seq=message.seq,
            ts=message.ts,
            kind=message.kind or MessageKind.TEXT,
            body=message.body,
            cid=message.cid or "",
            sender=Person.of(message.sender),
            attachments=message.attachments[:ATTACHMENTS_SHOWN],
        )

    @property
    def is_note(self) -> bool:
        return self.kind == MessageKind.NOTE


@dataclass(frozen=True)
class PageView:
    """One page the visitor showed (the context's ``pages``, or a ``visitor.seen``)."""

    url: str
    title: str = ""
    at: str = ""

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> PageView:
        return cls(_str(data, "url"), _str(data, "title"), _str(data, "at"))


@dataclass(frozen=True)
class EarlierChat:
    """One of the visitor's other conversations (the context's ``previous_conversations``)."""

    id: str
    status: str
    created_at: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> EarlierChat:
        return cls(_str(data, "id"), _str(data, "status"), _str(data, "created_at"))


@dataclass(frozen=True)
class Rating:
    score: int
    comment: str

    @classmethod
    def from_wire(cls, data: object) -> Rating | None:
        if not isinstance(data, Mapping) or not _int(data, "rating"):
            return None
        return cls(_int(data, "rating"), _str(data, "comment"))


PAGES_KEPT = 10  # the trail the panel shows (events carry the newest 10)


@dataclass(frozen=True)
class Visitor:
    id: str = ""
    name: str = ""
    email: str = ""
    language: str = ""
    page_url: str = ""
    page_title: str = ""
    referrer: str = ""
    visit_count: int = 0
    browser: str = ""
    os: str = ""
    device: str = ""
    pages: tuple[PageView, ...] = ()  # oldest first
    previous: tuple[EarlierChat, ...] | None = None  # None: not known (a list card)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any] | None) -> Visitor:
        if not data:
            return cls()
        pages = data.get("pages")
        last_page = pages[-1] if isinstance(pages, list) and pages else None
        earlier = data.get("previous_conversations")
        return cls(
            id=_str(data, "id"),
            name=_str(data, "name"),
            email=_str(data, "email"),
            language=_str(data, "language"),
            page_url=_str(data, "page_url"),
            page_title=_str(last_page, "title") if isinstance(last_page, Mapping) else "",
            referrer=_str(data, "referrer"),
            visit_count=_int(data, "visit_count"),
            browser=_str(data, "browser"),
            os=_str(data, "os"),
            device=_str(data, "device"),
            pages=tuple(
                PageView.from_wire(p) for p in pages[-PAGES_KEPT:] if isinstance(p, Mapping)
            )
            if isinstance(pages, list)
            else (),
            previous=tuple(EarlierChat.from_wire(c) for c in earlier if isinstance(c, Mapping))
            if isinstance(earlier, list)
            else None,
        )

    def merged(self, newer: Visitor) -> Visitor:
        """``newer`` (a list card, an event), keeping what only a fuller context said."""
        if not self.id or self == newer:  # a new conversation (the burst's case): as is
            return newer
        return Visitor(
            **{
                name: getattr(newer, name) or getattr(self, name)
                for name in self.__dataclass_fields__
                if name != "previous"
            },
            previous=newer.previous if newer.previous is not None else self.previous,
        )

    def seen(self, page: PageView) -> Visitor:
        """After a ``visitor.seen``: the page is the current one and ends the trail."""
        trail = (*self.pages, page)[-PAGES_KEPT:]
        return Visitor(
            **{
                name: getattr(self, name)
                for name in self.__dataclass_fields__
                if name not in ("page_url", "page_title", "pages")
            },
            page_url=page.url or self.page_url,
            page_title=page.title,
            pages=trail,
        )

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        if self.email:
            return self.email
        return f"Visitor {self.id[-6:]}" if self.id else "Visitor"


@dataclass(frozen=True)
class ConversationSummary:
    """One row of ``GET /api/v1/conversations`` (or what a ``conv.queued`` event says)."""

    id: str
    status: str
    assignee: Person | None
    department: str
    visitor: Visitor
    last_seq: int
    agent_read_seq: int
    visitor_read_seq: int
    created_at: str
    last_message: ChatMessage | None
    labels: tuple[str, ...] | None = None  # None: the server did not say
    rating: Rating | None = None
    labels_version: int | None = None  # None: the server did not say (an older one)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ConversationSummary:
        assignee = data.get("assignee")
        last = data.get("last_message")
        return cls(
            id=_str(data, "id"),
            status=_str(data, "status"),
            assignee=Person.from_wire(assignee, "agent") if isinstance(assignee, Mapping) else None,
            department=_str(data, "department"),
            visitor=Visitor.from_wire(_map(data, "visitor")),
            last_seq=_int(data, "last_seq"),
            agent_read_seq=_int(data, "agent_read_seq"),
            visitor_read_seq=_int(data, "visitor_read_seq"),  # beyond the brief; 0 if absent
            created_at=_str(data, "created_at"),
            last_message=ChatMessage.from_wire(last) if isinstance(last, Mapping) else None,
            labels=_labels(data.get("labels")),
            rating=Rating.from_wire(data.get("rating")),
            labels_version=_version(data.get("labels_version")),
        )


def _labels(value: object) -> tuple[str, ...] | None:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else None


def _version(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class LabelSet:
    """A conversation's labels as the labels routes answer: all of them, and their version
    (None from an older server)."""

    labels: tuple[str, ...]
    version: int | None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any] | None) -> LabelSet:
        body = data or {}
        return cls(_labels(body.get("labels")) or (), _version(body.get("version")))


@dataclass(frozen=True)
class ConversationPage:
    """A page of a conversation list: rows, the total that match, the next page's cursor."""

    rows: tuple[ConversationSummary, ...]
    total: int | None  # None: the server did not say (an older server)
    next_cursor: str | None


@dataclass(frozen=True)
class AgentInfo:
    id: str
    name: str
    email: str
    role: str
    status: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AgentInfo:
        return cls(
            id=_str(data, "id"),
            name=_str(data, "name"),
            email=_str(data, "email"),
            role=_str(data, "role"),
            status=_str(data, "status"),
        )

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.id


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: str
    agent: AgentInfo

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> LoginResult:
        return cls(
            token=_str(data, "token"),
            expires_at=_str(data, "expires_at"),
            agent=AgentInfo.from_wire(_map(data, "agent")),
        )
