"""The console's picture of the desk: conversations, their messages, queue and lists.

Plain state, no Textual and no I/O: the main screen feeds it client events and REST
rows and reads lists back from it for its widgets (attributes down). Methods that
change something answer what is worth telling the agent (a bell, a notice).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tui_agent.canned import fuzzy_score
from tui_agent.models import (
    ChatMessage,
    ConversationStatus,
    ConversationSummary,
    MessageKind,
    Person,
    SenderType,
    Visitor,
)


@dataclass
class PendingLine:
    """A message typed here and not yet seen back from the server."""

    cid: str
    body: str
    kind: str
    failed: str = ""  # the refusal, when the server will not store it


@dataclass
class TimelineNote:
    """Something that happened in a conversation that is not a message (assigned, ...)."""

    after_seq: int
    text: str


@dataclass
class Conversation:
    id: str
    status: str = ""  # unknown until an event or a list row says
    assignee: Person | None = None
    department: str = ""
    visitor: Visitor = field(default_factory=Visitor)
    created_at: str = ""
    last_seq: int = 0
    agent_read_seq: int = 0
    visitor_read_seq: int = 0
    summary_last: ChatMessage | None = None  # from a list row, before messages are loaded
    messages: dict[int, ChatMessage] = field(default_factory=dict)
    pending: dict[str, PendingLine] = field(default_factory=dict)
    notes: list[TimelineNote] = field(default_factory=list)
    visitor_typing: bool = False
    offered_to_me: bool = False  # auto-routing offered it to this agent (conv.offered)
    draft: str = ""
    note_mode: bool = False

    @property
    def title(self) -> str:
        return self.visitor.display_name

    @property
    def last_message(self) -> ChatMessage | None:
        shown = [m for m in self.messages.values() if not m.is_note]
        if shown:
            return max(shown, key=lambda m: m.seq)
        return self.summary_last

    @property
    def unread(self) -> int:
        """Visitor messages after the agent's read position."""
        if self.messages:
            return sum(
                1
                for m in self.messages.values()
                if m.seq > self.agent_read_seq and m.sender.type == SenderType.VISITOR
            )
        last = self.summary_last
        if last is not None and last.sender.type == SenderType.VISITOR:
            return max(0, min(1, self.last_seq - self.agent_read_seq))
        return 0

    @property
    def waiting_since(self) -> str:
        """When the visitor started waiting for an answer, or '' if not waiting."""
        if self.status == ConversationStatus.QUEUED:
            return self.created_at
        last = self.last_message
        if (
            self.status == ConversationStatus.ACTIVE
            and last is not None
            and last.sender.type == SenderType.VISITOR
        ):
            return last.ts
        return ""

    def ordered(self) -> list[ChatMessage]:
        return [self.messages[seq] for seq in sorted(self.messages)]


@dataclass(frozen=True)
class Notice:
    """What the screen should tell the agent about a change."""

    text: str
    conv: str = ""
    bell: bool = False


class Desk:
    def __init__(self) -> None:
        self.me_id = ""
        self.me_name = ""
        self.my_status = ""
        self.conversations: dict[str, Conversation] = {}

    # ------------------------------------------------------------------ lists

    def get(self, conv: str) -> Conversation:
        found = self.conversations.get(conv)
        if found is None:
            found = self.conversations[conv] = Conversation(conv)
        return found

    def is_mine(self, conv: Conversation) -> bool:
        return (
            conv.status == ConversationStatus.ACTIVE
            and conv.assignee is not None
            and conv.assignee.id == self.me_id
        )

    def queue(self) -> list[Conversation]:
        return self._sorted(
            c for c in self.conversations.values() if c.status == ConversationStatus.QUEUED
        )

    def offered(self) -> list[Conversation]:
        """Queued conversations offered to this agent, oldest first: what to grab next."""
        return [c for c in self.queue() if c.offered_to_me]

    def mine(self) -> list[Conversation]:
        return self._sorted(c for c in self.conversations.values() if self.is_mine(c))

    def all_open(self) -> list[Conversation]:
        return self._sorted(
            c for c in self.conversations.values() if c.status != ConversationStatus.CLOSED
        )

    def closed(self) -> list[Conversation]:
        return self._sorted(
            (c for c in self.conversations.values() if c.status == ConversationStatus.CLOSED),
            newest_first=True,
        )

    @staticmethod
    def _sorted(items: Iterable[Conversation], newest_first: bool = False) -> list[Conversation]:
        return sorted(items, key=lambda c: (c.created_at, c.id), reverse=newest_first)

    def next_unread(self, after: str | None) -> Conversation | None:
        """The next of the agent's conversations with unread messages, cycling."""
        candidates = [c for c in self.mine() if c.unread]
        if not candidates:
            return None
        ids = [c.id for c in candidates]
        if after in ids:
            return candidates[(ids.index(after) + 1) % len(candidates)]
        return candidates[0]

    def search(self, query: str, limit: int = 50) -> list[Conversation]:
        """Loaded conversations matching ``query`` (visitor, page, any loaded message)."""
        scored: list[tuple[float, Conversation]] = []
        for conv in self.conversations.values():
            fields = [conv.visitor.name, conv.visitor.email, conv.visitor.page_url, conv.id]
            bodies = [m.body for m in conv.messages.values()]
            if conv.summary_last is not None:
                bodies.append(conv.summary_last.body)
            score = max(
                [fuzzy_score(query, f) for f in fields if f]
                + [fuzzy_score(query, b) * 0.8 for b in bodies if query.lower() in b.lower()]
                + [0.0]
            )
            if score >= 20:
                scored.append((score, conv))
        scored.sort(key=lambda item: (-item[0], item[1].created_at))
        return [conv for _, conv in scored[:limit]]

    # ------------------------------------------------------------------ updates

    def apply_summary(self, row: ConversationSummary) -> None:
        conv = self.get(row.id)
        conv.status = row.status or conv.status
        conv.assignee = row.assignee
        conv.department = row.department
        if row.visitor.id or not conv.visitor.id:
            conv.visitor = row.visitor
        conv.created_at = row.created_at or conv.created_at
        conv.last_seq = max(conv.last_seq, row.last_seq)
        conv.agent_read_seq = max(conv.agent_read_seq, row.agent_read_seq)
        conv.visitor_read_seq = max(conv.visitor_read_seq, row.visitor_read_seq)
        conv.summary_last = row.last_message

    def add_messages(self, conv_id: str, messages: Iterable[ChatMessage]) -> list[ChatMessage]:
        """Store messages; returns the visitor's among them (worth a notice if live)."""
        conv = self.get(conv_id)
        from_visitor = []
        for message in messages:
            conv.messages[message.seq] = message
            conv.last_seq = max(conv.last_seq, message.seq)
            if message.cid:
                conv.pending.pop(message.cid, None)
            if message.sender.type == SenderType.VISITOR:
                from_visitor.append(message)
                conv.visitor_typing = False
            elif message.sender.id == self.me_id:
                # one's own message: everything before it has been seen
                conv.agent_read_seq = max(conv.agent_read_seq, message.seq)
        return from_visitor

    def add_pending(self, conv_id: str, cid: str, body: str, kind: str) -> None:
        self.get(conv_id).pending[cid] = PendingLine(cid, body, kind)

    def fail_pending(self, conv_id: str, cid: str, reason: str) -> None:
        line = self.get(conv_id).pending.get(cid)
        if line is not None:
            line.failed = reason

    def mark_read(self, conv_id: str) -> int:
        """Mark everything read; the seq to report in a ``read`` frame (0: nothing new)."""
        conv = self.get(conv_id)
        if not conv.messages:
            return 0
        top = max(conv.messages)
        if top <= conv.agent_read_seq:
            return 0
        conv.agent_read_seq = top
        return top

    def apply_event(self, name: str, conv_id: str, data: Mapping[str, Any]) -> Notice | None:
        if name == "agent.status":
            agent = data.get("agent")
            if isinstance(agent, Mapping) and agent.get("id") == self.me_id:
                self.my_status = str(data.get("state") or "")
            return None
        if not conv_id:
            return None
        conv = self.get(conv_id)
        seq = _int(data.get("last_seq"), conv.last_seq)
        if name == "conv.queued":
            fresh = conv.status != ConversationStatus.QUEUED
            conv.status = ConversationStatus.QUEUED
            conv.assignee = None
            conv.department = str(data.get("department") or "")
            visitor = data.get("visitor")
            if isinstance(visitor, Mapping):
                conv.visitor = Visitor.from_wire(visitor)
            conv.created_at = str(data.get("created_at") or conv.created_at)
            if fresh:
                return Notice(f"New chat waiting: {conv.title}", conv_id, bell=True)
        elif name == "visitor.seen":  # the visitor moved to another page
            conv.visitor = replace(
                conv.visitor,
                page_url=str(data.get("url") or conv.visitor.page_url),
                page_title=str(data.get("title") or ""),
            )
        elif name == "conv.offered":
            agent = _mapping(data.get("agent"))
            if agent.get("id") == self.me_id and conv.status == ConversationStatus.QUEUED:
                conv.offered_to_me = True
                timeout = data.get("timeout_secs")
                within = f" within {timeout} s" if isinstance(timeout, int) else ""
                return Notice(
                    f"{conv.title} is offered to you: Ctrl+G accepts{within}", conv_id, bell=True
                )
        elif name == "conv.offer_expired":
            if conv.offered_to_me:
                conv.offered_to_me = False
                return Notice(f"The offer of {conv.title} moved on", conv_id)
        elif name == "conv.assigned":
            conv.offered_to_me = False
            agent = Person.from_wire(_mapping(data.get("agent")), "agent")
            conv.status = ConversationStatus.ACTIVE
            conv.assignee = agent
            conv.notes.append(TimelineNote(seq, f"Assigned to {agent.name or agent.id}"))
            if agent.id == self.me_id:
                return Notice(f"{conv.title} is yours", conv_id)
        elif name == "conv.transferred":
            source = Person.from_wire(_mapping(data.get("from")), "agent")
            if "to_agent" in data:
                target = Person.from_wire(_mapping(data.get("to_agent")), "agent").name
            else:
                target = str(_mapping(data.get("to_department")).get("name") or "a department")
                conv.status = ConversationStatus.QUEUED
                conv.offered_to_me = False  # the new department's routing offers afresh
                conv.assignee = None
            note = data.get("note")
            text = f"Transferred by {source.name or 'an agent'} to {target}"
            conv.notes.append(TimelineNote(seq, text + (f": {note}" if note else "")))
            if "to_agent" in data and _mapping(data.get("to_agent")).get("id") == self.me_id:
                return Notice(f"{conv.title} was transferred to you", conv_id, bell=True)
        elif name == "conv.closed":
            conv.offered_to_me = False
            conv.status = ConversationStatus.CLOSED
            conv.visitor_typing = False
            by = Person.from_wire(_mapping(data.get("by")))
            who = "the visitor" if by.type == SenderType.VISITOR else (by.name or "an agent")
            conv.notes.append(TimelineNote(conv.last_seq, f"Closed by {who}"))
            if by.type == SenderType.VISITOR:
                return Notice(f"{conv.title} closed the chat", conv_id)
        return None

    def note_kind(self, conv_id: str) -> str:
        return MessageKind.NOTE if self.get(conv_id).note_mode else MessageKind.TEXT


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
