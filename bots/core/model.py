"""The bridge's neutral vocabulary (as errbot's and Bolt's): conversation, author, item,
thread, chat-app user and what they ask for. No platform and no wire details here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class AuthorKind(StrEnum):
    VISITOR = "visitor"
    AGENT = "agent"
    AI = "ai"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Author:
    kind: str
    id: str
    name: str = ""

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id, "name": self.name}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Author:
        return cls(str(raw.get("kind", "")), str(raw.get("id", "")), str(raw.get("name", "")))


@dataclass(frozen=True, slots=True)
class Visitor:
    """What the thread's root message says about the visitor."""

    name: str = ""
    email: str = ""
    page_url: str = ""
    language: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "email": self.email,
            "page_url": self.page_url,
            "language": self.language,
        }

    @classmethod
    def from_json(cls, raw: Any) -> Visitor:
        if not isinstance(raw, dict):
            return cls()

        def get(key: str) -> str:
            value = raw.get(key)
            return value if isinstance(value, str) else ""

        return cls(get("name"), get("email"), get("page_url"), get("language"))


@dataclass(frozen=True, slots=True)
class FileRef:
    """An attachment of a message (protocol "Attachments (v1.1)"): its bytes are fetched
    from Steadydesk when the item is posted (a signed URL would expire in the outbox)."""

    id: str
    name: str
    size: int = 0
    type: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "size": self.size, "type": self.type}

    @classmethod
    def from_json(cls, raw: Any) -> FileRef:
        size = raw.get("size")
        return cls(
            str(raw.get("id") or ""),
            str(raw.get("name") or ""),
            size if isinstance(size, int) else 0,
            str(raw.get("type") or ""),
        )


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """A file a chat-app user posted with a reply: its name and how to fetch its bytes
    from the platform (with the bot's credentials)."""

    name: str
    fetch: Callable[[], Awaitable[bytes]]


class ItemKind(StrEnum):
    MESSAGE = "message"  # a visitor's message, or a reply written elsewhere
    NOTE = "note"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Item:
    """One numbered message of a conversation, as it goes into the thread."""

    conv: str
    seq: int
    kind: ItemKind
    body: str
    author: Author
    ts: str = ""
    cid: str | None = None
    files: tuple[FileRef, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = {
            "conv": self.conv,
            "seq": self.seq,
            "kind": str(self.kind),
            "body": self.body,
            "author": self.author.to_json(),
            "ts": self.ts,
            "cid": self.cid,
        }
        if self.files:
            out["files"] = [f.to_json() for f in self.files]
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Item:
        return cls(
            str(raw["conv"]),
            int(raw["seq"]),
            ItemKind(raw["kind"]),
            str(raw["body"]),
            Author.from_json(raw.get("author") or {}),
            str(raw.get("ts") or ""),
            raw.get("cid"),
            tuple(FileRef.from_json(f) for f in raw.get("files") or () if isinstance(f, dict)),
        )


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    visitor: Visitor = field(default_factory=Visitor)
    department: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadRef:
    """Where a conversation lives on the platform: a channel (Slack channel, Telegram
    group) and the thread in it (Slack root ``ts``, Telegram ``message_thread_id``)."""

    channel: str
    root: str


@dataclass(frozen=True, slots=True)
class ChatUser:
    """A chat-app user: ``external`` is the id BRIDGES.md links (Slack ``team:user``,
    Telegram's numeric id); ``reply_to`` is how the platform answers them privately."""

    external: str
    name: str = ""
    reply_to: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"external": self.external, "name": self.name, "reply_to": self.reply_to}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ChatUser:
        reply_to = raw.get("reply_to")
        return cls(
            str(raw.get("external", "")),
            str(raw.get("name", "")),
            reply_to if isinstance(reply_to, dict) else {},
        )


class OpKind(StrEnum):
    """What an outbox entry asks of the platform, in the order it was queued."""

    OPEN = "open"  # post the root message (with the first visitor message) / create the topic
    POST = "post"  # one numbered item into the thread
    NOTICE = "notice"  # a line about the conversation (claimed, transferred, closed)
    CLOSE = "close"
    REOPEN = "reopen"
    MOVE = "move"  # a pointer in the old thread, then a new thread in another channel


@dataclass(frozen=True, slots=True)
class Op:
    id: int
    conv: str
    kind: OpKind
    payload: dict[str, Any]
    seq: int | None
    in_flight: bool
    attempts: int
    queued_at: float = 0.0  # unix time

    @property
    def ref(self) -> str:
        """A stable name for this post on the platform (message metadata): finds it after a
        crash between the platform's accept and the local commit."""
        if self.kind is OpKind.OPEN:
            return "root"
        if self.kind is OpKind.POST:
            return f"m{self.seq}"
        return f"o{self.id}"
