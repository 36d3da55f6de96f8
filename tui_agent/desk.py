"""The console's picture of the desk: conversations, their messages, queue and lists.

Plain state, no Textual and no I/O: the main screen feeds it client events and REST
rows and reads lists back from it for its widgets (attributes down). Methods that
change something answer what is worth telling the agent (a bell, a notice).

Built for a deep queue (issue #22): the three lists are kept sorted as conversations
change (:class:`SortedIds`, no sort per draw), each knows the server's total besides
what is loaded (:class:`ListState`), unread counts and last lines are kept up to date
rather than recounted, and what changed since the last draw is collected
(:meth:`Desk.take_changes`) so the screen redraws only that, at most once a frame.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from steadywire import (
    AgentStatusChanged,
    ConvAssigned,
    ConvClosed,
    ConvLabels,
    ConvOffered,
    ConvOfferExpired,
    ConvQueued,
    ConvRated,
    ConvTransferred,
    EventDetails,
    EventName,
    PresenceChanged,
    QueueSummary,
    Sender,
    VisitorSeen,
)
from tui_agent.canned import fuzzy_score
from tui_agent.events import ConversationEvent
from tui_agent.models import (
    ChatMessage,
    ConversationStatus,
    ConversationSummary,
    MessageKind,
    PageView,
    Person,
    Rating,
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


Key = tuple[str, str]  # (created_at, id): the lists' order


class SortedIds:
    """Conversation ids in key order; adding, moving and removing one is O(log n)."""

    def __init__(self) -> None:
        self._keys: list[Key] = []
        self._key_of: dict[str, Key] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, conv_id: object) -> bool:
        return conv_id in self._key_of

    def put(self, conv_id: str, key: Key) -> bool:
        """Add or move ``conv_id``; True when the list changed."""
        old = self._key_of.get(conv_id)
        if old == key:
            return False
        if old is not None:
            del self._keys[bisect.bisect_left(self._keys, old)]
        bisect.insort(self._keys, key)
        self._key_of[conv_id] = key
        return True

    def discard(self, conv_id: str) -> bool:
        old = self._key_of.pop(conv_id, None)
        if old is None:
            return False
        del self._keys[bisect.bisect_left(self._keys, old)]
        return True

    def at(self, index: int) -> str:
        return self._keys[index][1]

    def index(self, conv_id: str) -> int:
        return bisect.bisect_left(self._keys, self._key_of[conv_id])

    def ids(self, start: int = 0, stop: int | None = None) -> list[str]:
        return [key[1] for key in self._keys[start:stop]]

    def up_to(self, key: Key | None) -> list[str]:
        """Ids with a key at most ``key`` (all of them for None)."""
        stop = len(self._keys) if key is None else bisect.bisect_right(self._keys, key)
        return self.ids(0, stop)


@dataclass
class ListState:
    """One list as the server has it: what is loaded here, the total, where to go on."""

    ids: SortedIds = field(default_factory=SortedIds)
    server_total: int | None = None  # None: the server gave no total (older server)
    counted_until: str | None = None  # the newest creation time the total counted
    fresh: set[str] = field(default_factory=set)  # joined since, created after that
    gone: int = 0  # left since the total was read (and not fresh)
    next_cursor: str | None = None
    complete: bool = False  # every row is loaded: the events keep it exact
    unread: int = 0  # unread messages in the loaded rows (kept current)
    loaded: bool = False  # the first page has arrived
    # The queue as the server last summed it up (``queue.summary``): with automatic
    # routing an agent is not sent the card of what it was not offered, only this count.
    live_total: int | None = None

    @property
    def count(self) -> int:
        """How many the list holds on the server: the last summary, else the last total,
        plus the new conversations seen joining since, minus those seen leaving.
        Conversations the total already counted (the queue a welcome replays, later
        pages) add nothing."""
        if self.live_total is not None:
            return self.live_total
        if self.complete or self.server_total is None:
            return len(self.ids)
        return max(len(self.ids), self.server_total + len(self.fresh) - self.gone)

    def joined(self, conv: Conversation) -> None:
        if self.counted_until is not None and conv.created_at > self.counted_until:
            self.fresh.add(conv.id)

    def left(self, conv_id: str) -> None:
        if conv_id in self.fresh:
            self.fresh.discard(conv_id)
        else:
            self.gone += 1

    @property
    def more(self) -> bool:
        return self.next_cursor is not None and not self.complete


LISTS = ("queue", "mine", "open")


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
    taking: bool = False  # this console asked to accept it and waits for the answer
    draft: str = ""
    note_mode: bool = False
    unread: int = 0  # visitor messages after the agent's read position (kept current)
    last_shown: ChatMessage | None = None  # the newest loaded message that is not a note
    labels: tuple[str, ...] = ()
    labels_version: int | None = None  # of ``labels``; None: of unknown age
    rating: Rating | None = None
    detailed: bool = False  # the full visitor context (GET /conversations/{id}) is here
    version: int = 0  # grows with every change worth redrawing
    touched: int = 0  # the desk's tick of the last event about it

    @property
    def title(self) -> str:
        return self.visitor.display_name

    @property
    def key(self) -> Key:
        return (self.created_at, self.id)

    @property
    def last_message(self) -> ChatMessage | None:
        return self.last_shown or self.summary_last

    def recount_unread(self) -> None:
        if self.messages:
            self.unread = sum(
                1
                for m in self.messages.values()
                if m.seq > self.agent_read_seq and m.sender.type == SenderType.VISITOR
            )
            return
        last = self.summary_last
        if last is not None and last.sender.type == SenderType.VISITOR:
            self.unread = max(0, min(1, self.last_seq - self.agent_read_seq))
        else:
            self.unread = 0

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
        self.my_role = ""
        self.agent_status: dict[str, str] = {}  # agent id -> live status (agent.status events)
        self.agent_connected: dict[str, bool] = {}  # agent id -> a console open (agent.presence)
        self.conversations: dict[str, Conversation] = {}
        self.lists: dict[str, ListState] = {name: ListState() for name in LISTS}
        self.tick = 0  # counts events, so a REST answer can tell what happened meanwhile
        self._offered: set[str] = set()
        self._unread_counted: dict[str, int] = {}  # what each counts in its lists' unread
        self._changed: set[str] = set()
        self._lists_changed = False
        self._me_changed = False

    # ------------------------------------------------------------------ lists

    def get(self, conv: str) -> Conversation:
        found = self.conversations.get(conv)
        if found is None:
            found = self.conversations[conv] = Conversation(conv)
        return found

    def owned_by_other(self, conv: Conversation) -> bool:
        """Someone else has it (active, assigned to another agent): read-only here."""
        return (
            conv.status == ConversationStatus.ACTIVE
            and conv.assignee is not None
            and conv.assignee.id != self.me_id
        )

    @property
    def is_admin(self) -> bool:
        return self.my_role == "admin"

    def is_mine(self, conv: Conversation) -> bool:
        return (
            conv.status == ConversationStatus.ACTIVE
            and conv.assignee is not None
            and conv.assignee.id == self.me_id
        )

    def _member_of(self, conv: Conversation) -> tuple[bool, bool, bool]:
        open_ = bool(conv.status) and conv.status != ConversationStatus.CLOSED
        return conv.status == ConversationStatus.QUEUED, self.is_mine(conv), open_

    def changed(self, conv: Conversation) -> None:
        """Record that ``conv`` changed: its place in the lists, and a redraw."""
        conv.version += 1
        self._changed.add(conv.id)
        if conv.offered_to_me and conv.status == ConversationStatus.QUEUED:
            self._offered.add(conv.id)
        else:
            self._offered.discard(conv.id)
        counted = self._unread_counted.pop(conv.id, 0)
        for name, member in zip(LISTS, self._member_of(conv), strict=True):
            state = self.lists[name]
            was = conv.id in state.ids
            if was:
                state.unread -= counted
            moved = state.ids.put(conv.id, conv.key) if member else state.ids.discard(conv.id)
            if member and not was:
                state.joined(conv)
            elif was and not member:
                state.left(conv.id)
            if member:
                state.unread += conv.unread
            self._lists_changed = self._lists_changed or moved or counted != conv.unread
        if conv.unread:
            self._unread_counted[conv.id] = conv.unread

    def take_changes(self) -> tuple[set[str], bool, bool]:
        """(conversations changed, lists changed, my name or status changed) since the
        last call: what the next draw has to redraw."""
        changes = (self._changed, self._lists_changed, self._me_changed)
        self._changed, self._lists_changed, self._me_changed = set(), False, False
        return changes

    def row(self, name: str, index: int) -> Conversation:
        return self.conversations[self.lists[name].ids.at(index)]

    def _list(self, name: str) -> list[Conversation]:
        return [self.conversations[conv] for conv in self.lists[name].ids.ids()]

    def queue(self) -> list[Conversation]:
        return self._list("queue")

    def offered(self) -> list[Conversation]:
        """Queued conversations offered to this agent, oldest first: what to grab next."""
        return sorted((self.conversations[c] for c in self._offered), key=lambda c: c.key)

    def mine(self) -> list[Conversation]:
        return self._list("mine")

    def all_open(self) -> list[Conversation]:
        return self._list("open")

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
        candidates = [c for c in self.mine() if c.unread]  # one agent's: never the queue
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

    def apply_summary(self, row: ConversationSummary, since_tick: int | None = None) -> None:
        """A REST row. Asked for at ``since_tick``: an event about the conversation since
        then is newer than the row, so the row does not undo it."""
        conv = self.get(row.id)
        if since_tick is None or conv.touched <= since_tick:
            conv.status = row.status or conv.status
            conv.assignee = row.assignee
            if row.status != ConversationStatus.QUEUED:
                conv.offered_to_me = False
        conv.department = row.department
        if row.visitor.id or not conv.visitor.id:
            conv.visitor = conv.visitor.merged(row.visitor)
        if row.labels is not None:
            self._take_labels(conv, row.labels, row.labels_version)
        conv.rating = row.rating or conv.rating
        conv.created_at = row.created_at or conv.created_at
        conv.last_seq = max(conv.last_seq, row.last_seq)
        conv.agent_read_seq = max(conv.agent_read_seq, row.agent_read_seq)
        conv.visitor_read_seq = max(conv.visitor_read_seq, row.visitor_read_seq)
        conv.summary_last = row.last_message or conv.summary_last  # a detail has none
        conv.recount_unread()
        self.changed(conv)

    def apply_detail(self, data: Mapping[str, Any], since_tick: int) -> None:
        """``GET /conversations/{id}``, asked at ``since_tick``: the visitor's whole
        context, labels, rating."""
        conv = self.get(str(data.get("id") or ""))
        row = ConversationSummary.from_wire(data)
        self.apply_summary(row, since_tick=since_tick)
        visitor = data.get("visitor")
        if isinstance(visitor, Mapping):
            conv.visitor = conv.visitor.merged(Visitor.from_wire(visitor))
        conv.detailed = True
        self.changed(conv)

    def set_labels(self, conv_id: str, labels: Iterable[str], version: int | None) -> None:
        """A conversation's labels as a labels route or ``conv.labels`` says, unless this
        desk holds a newer set already (two colleagues' changes can arrive in any order)."""
        conv = self.get(conv_id)
        if self._take_labels(conv, tuple(labels), version):
            self.changed(conv)

    @staticmethod
    def _take_labels(conv: Conversation, labels: tuple[str, ...], version: int | None) -> bool:
        """Whether ``labels`` (of ``version``) replaced what ``conv`` shows."""
        known = conv.labels_version
        if version is not None and known is not None and version <= known:
            return False  # older than, or the same as, what is shown
        conv.labels_version = version
        if conv.labels == labels:
            return False
        conv.labels = labels
        return True

    def apply_page(
        self,
        name: str,
        rows: Iterable[ConversationSummary],
        total: int | None,
        next_cursor: str | None,
        *,
        first: bool,
        since_tick: int,
    ) -> None:
        """A page of list ``name`` asked for at ``since_tick``. A first page also tells
        what left the list meanwhile: a conversation listed here up to the page's last
        row, absent from the page and untouched since, is no longer in it (status
        unknown until an event or a row says)."""
        state = self.lists[name]
        rows = list(rows)
        for row in rows:
            self.apply_summary(row, since_tick)
        if first:
            last = max((self.get(r.id).key for r in rows), default=None)
            covered = None if next_cursor is None else last
            seen = {row.id for row in rows}
            for conv_id in state.ids.up_to(covered) if (rows or next_cursor is None) else []:
                conv = self.conversations[conv_id]
                if conv_id not in seen and conv.touched <= since_tick:
                    conv.status = ""
                    self.changed(conv)
        state.loaded = True
        state.next_cursor = next_cursor
        state.complete = next_cursor is None
        if first:
            self.set_total(name, total, None)

    def set_total(self, name: str, total: int | None, counted_until: str | None) -> None:
        """The server's total for list ``name``; ``counted_until`` is the creation time of
        the newest conversation it counted (None: unknown, new ones count from the next
        total on)."""
        state = self.lists[name]
        state.server_total = total
        state.counted_until = counted_until
        state.fresh.clear()
        state.gone = 0
        self._lists_changed = True

    def add_messages(self, conv_id: str, messages: Iterable[ChatMessage]) -> list[ChatMessage]:
        """Store messages; returns the visitor's among them (worth a notice if live)."""
        conv = self.get(conv_id)
        from_visitor = []
        read_moved = False
        for message in messages:
            fresh = message.seq not in conv.messages
            conv.messages[message.seq] = message
            conv.last_seq = max(conv.last_seq, message.seq)
            if not message.is_note and (
                conv.last_shown is None or message.seq >= conv.last_shown.seq
            ):
                conv.last_shown = message
            if message.cid:
                conv.pending.pop(message.cid, None)
            if message.sender.type == SenderType.VISITOR:
                from_visitor.append(message)
                conv.visitor_typing = False
                if fresh and message.seq > conv.agent_read_seq:
                    conv.unread += 1
            elif message.sender.id == self.me_id and message.seq > conv.agent_read_seq:
                # one's own message: everything before it has been seen
                conv.agent_read_seq = message.seq
                read_moved = True
        if read_moved or len(conv.messages) == len(from_visitor):  # first ones: from scratch
            conv.recount_unread()
        self.changed(conv)
        return from_visitor

    def set_taking(self, conv_id: str, on: bool) -> None:
        conv = self.get(conv_id)
        if conv.taking != on:
            conv.taking = on
            self.changed(conv)

    def set_typing(self, conv_id: str, on: bool) -> None:
        conv = self.get(conv_id)
        if conv.visitor_typing != on:
            conv.visitor_typing = on
            self.changed(conv)

    def visitor_read(self, conv_id: str, seq: int) -> None:
        conv = self.get(conv_id)
        if seq > conv.visitor_read_seq:
            conv.visitor_read_seq = seq
            self.changed(conv)

    def add_pending(self, conv_id: str, cid: str, body: str, kind: str) -> None:
        conv = self.get(conv_id)
        conv.pending[cid] = PendingLine(cid, body, kind)
        self.changed(conv)

    def fail_pending(self, conv_id: str, cid: str, reason: str) -> None:
        conv = self.get(conv_id)
        line = conv.pending.get(cid)
        if line is not None:
            line.failed = reason
            self.changed(conv)

    def mark_read(self, conv_id: str) -> int:
        """Mark everything read; the seq to report in a ``read`` frame (0: nothing new)."""
        conv = self.get(conv_id)
        if not conv.messages:
            return 0
        top = conv.last_seq if conv.last_seq in conv.messages else max(conv.messages)
        if top <= conv.agent_read_seq:
            return 0
        conv.agent_read_seq = top
        conv.recount_unread()
        self.changed(conv)
        return top

    def set_my_status(self, status: str) -> None:
        if status != self.my_status:
            self.my_status = status
            self._me_changed = True

    def apply_event(self, event: ConversationEvent) -> Notice | None:
        """An event steadywire parsed (:func:`tui_agent.events.conversation_event`)."""
        details = event.details
        match details:
            case AgentStatusChanged():
                if details.agent.id:
                    self.agent_status[details.agent.id] = details.state or ""
                    if details.agent.id == self.me_id:
                        self.set_my_status(details.state or "")
                return None
            case QueueSummary():
                self.lists["queue"].live_total = details.waiting
                self._lists_changed = True
                return None
            case PresenceChanged() if event.name == EventName.AGENT_PRESENCE:
                if details.who.id:
                    self.agent_connected[details.who.id] = details.connected
                return None
        if not event.conv:
            return None
        if isinstance(details, ConvLabels):
            # Every agent hears of every label change: only a chat this desk holds changes.
            known = self.conversations.get(event.conv)
            if known is not None:
                self.set_labels(known.id, details.labels, details.version)
            return None
        conv = self.get(event.conv)
        self.tick += 1
        conv.touched = self.tick
        try:
            return self._apply(details, conv)
        finally:
            self.changed(conv)

    def _apply(self, details: EventDetails, conv: Conversation) -> Notice | None:
        conv_id = conv.id
        if isinstance(details, ConvAssigned | ConvClosed | ConvTransferred):
            conv.taking = False
        match details:
            case ConvQueued():
                fresh = conv.status != ConversationStatus.QUEUED
                conv.status = ConversationStatus.QUEUED
                conv.assignee = None
                conv.department = details.department or ""
                if details.visitor:
                    conv.visitor = conv.visitor.merged(Visitor.from_wire(details.visitor))
                conv.created_at = details.created_at or conv.created_at
                if fresh:
                    return Notice(f"New chat waiting: {conv.title}", conv_id, bell=True)
            case VisitorSeen():  # the visitor moved to another page
                page = PageView(details.url or "", details.title or "", details.at or "")
                conv.visitor = conv.visitor.seen(page)
            case ConvRated():
                conv.rating = (
                    Rating(details.rating, details.comment or "") if details.rating else None
                )
            case ConvOffered():
                if details.agent.id == self.me_id and conv.status == ConversationStatus.QUEUED:
                    conv.offered_to_me = True
                    timeout = details.timeout_secs
                    within = (
                        f" within {int(timeout)} s"
                        if timeout is not None and timeout.is_integer()
                        else ""
                    )
                    return Notice(
                        f"{conv.title} is offered to you: Ctrl+G accepts{within}",
                        conv_id,
                        bell=True,
                    )
            case ConvOfferExpired():
                if conv.offered_to_me:
                    conv.offered_to_me = False
                    return Notice(f"The offer of {conv.title} moved on", conv_id)
            case ConvAssigned():
                conv.offered_to_me = False
                # A robot (issue #20) is the "assignee" {"type": "ai"} (and "agent" too, for
                # clients that read only that); an older server sent only one of the two.
                holder = (
                    details.agent
                    if details.agent.id or details.assignee is None
                    else details.assignee
                )
                assignee = Person.of(holder, SenderType.AGENT)
                conv.status = ConversationStatus.ACTIVE
                conv.assignee = assignee
                label = assignee.name or assignee.id
                if assignee.type == SenderType.AI:
                    label = f"{label} (AI)"
                conv.notes.append(
                    TimelineNote(_seq(details.last_seq, conv), f"Assigned to {label}")
                )
                if assignee.id == self.me_id:
                    return Notice(f"{conv.title} is yours", conv_id)
            case ConvTransferred():
                return self._transferred(details, conv)
            case ConvClosed():
                conv.offered_to_me = False
                conv.status = ConversationStatus.CLOSED
                conv.visitor_typing = False
                by = Person.of(details.by)
                who = "the visitor" if by.type == SenderType.VISITOR else (by.name or "an agent")
                conv.notes.append(TimelineNote(conv.last_seq, f"Closed by {who}"))
                if by.type == SenderType.VISITOR:
                    return Notice(f"{conv.title} closed the chat", conv_id)
        return None

    def _transferred(self, details: ConvTransferred, conv: Conversation) -> Notice | None:
        source = details.from_sender or Sender("", "")
        to_agent = details.to_agent_sender or Sender("", "")
        if details.to_agent is not None:
            target = to_agent.name
        else:
            target = details.to_department_name or "a department"
            conv.status = ConversationStatus.QUEUED
            conv.offered_to_me = False  # the new department's routing offers afresh
            conv.assignee = None
        text = f"Transferred by {source.name or 'an agent'} to {target}"
        note = details.note
        conv.notes.append(
            TimelineNote(_seq(details.last_seq, conv), text + (f": {note}" if note else ""))
        )
        if details.to_agent is not None and to_agent.id == self.me_id:
            return Notice(f"{conv.title} was transferred to you", conv.id, bell=True)
        return None

    def note_kind(self, conv_id: str) -> str:
        return MessageKind.NOTE if self.get(conv_id).note_mode else MessageKind.TEXT


def _seq(last_seq: int | None, conv: Conversation) -> int:
    """Where a note goes: the event's ``last_seq``, else after what is held."""
    return conv.last_seq if last_seq is None else last_seq
