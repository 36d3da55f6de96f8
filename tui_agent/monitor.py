"""The live monitor's state, without a terminal: the snapshot, then the feed applied to it.

``GET /api/v1/monitor/visitors`` gives visitors, queue and agents; events keep them
current: ``visitor.online`` / ``visitor.offline`` / ``visitor.seen`` (the monitor's own
feed), ``conv.queued`` / ``conv.assigned`` / ``conv.closed`` / ``conv.transferred`` (who
is in a chat, what waits) and ``agent.status`` / ``agent.presence``. Everything here is
as the server sent it: the screen makes it safe to show (``untrusted``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from steadywire import (
    AgentStatusChanged,
    ConvAssigned,
    ConvClosed,
    ConvQueued,
    EventName,
    PresenceChanged,
    VisitorCameOrWent,
    VisitorSeen,
)
from tui_agent.events import ConversationEvent
from tui_agent.formatting import waited


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


@dataclass
class VisitorRow:
    id: str
    name: str = ""
    url: str = ""
    title: str = ""
    since: str = ""  # on this page since (ISO time)
    conv: str = ""
    conv_status: str = ""
    agent: str = ""  # the assigned agent's name

    @property
    def in_chat(self) -> bool:
        return bool(self.conv)

    def chat_label(self) -> str:
        if not self.conv:
            return "browsing"
        if self.conv_status == "queued":
            return "waiting"
        return f"with {self.agent}" if self.agent else "in chat"


@dataclass
class QueueRow:
    conv: str
    visitor: str
    since: str


@dataclass
class AgentRow:
    id: str
    name: str
    status: str
    connected: bool
    load: int
    capacity: int


@dataclass
class LiveMonitor:
    visitors: dict[str, VisitorRow] = field(default_factory=dict)
    queue: dict[str, QueueRow] = field(default_factory=dict)
    agents: dict[str, AgentRow] = field(default_factory=dict)
    more_visitors: int = 0

    def load(self, snapshot: Mapping[str, Any]) -> None:
        """Replace everything with a snapshot (events already applied may be older)."""
        self.visitors = {}
        for raw in snapshot.get("visitors") or ():
            if isinstance(raw, Mapping) and _str(raw, "id"):
                agent = raw.get("agent")
                self.visitors[_str(raw, "id")] = VisitorRow(
                    id=_str(raw, "id"),
                    name=_str(raw, "name"),
                    url=_str(raw, "url"),
                    title=_str(raw, "title"),
                    since=_str(raw, "since"),
                    conv=_str(raw, "conv"),
                    conv_status=_str(raw, "conv_status"),
                    agent=_str(agent, "name") if isinstance(agent, Mapping) else "",
                )
        self.queue = {}
        for raw in snapshot.get("queue") or ():
            if isinstance(raw, Mapping) and _str(raw, "conv"):
                who = raw.get("visitor")
                name = _str(who, "name") if isinstance(who, Mapping) else ""
                self.queue[_str(raw, "conv")] = QueueRow(
                    _str(raw, "conv"), name or "Visitor", _str(raw, "since")
                )
        self.agents = {}
        for raw in snapshot.get("agents") or ():
            if isinstance(raw, Mapping) and _str(raw, "id"):
                load, capacity = raw.get("load"), raw.get("capacity")
                self.agents[_str(raw, "id")] = AgentRow(
                    _str(raw, "id"),
                    _str(raw, "name"),
                    _str(raw, "status"),
                    raw.get("connected") is True,
                    load if isinstance(load, int) else 0,
                    capacity if isinstance(capacity, int) else 0,
                )
        more = snapshot.get("more_visitors")
        self.more_visitors = more if isinstance(more, int) else 0

    def apply(self, event: ConversationEvent) -> bool:
        """Apply one event (steadywire's typed data); True when something shown changed."""
        details = event.details
        match details:
            case VisitorCameOrWent(online=True):
                vid = details.visitor.id
                if vid and vid not in self.visitors:
                    self.visitors[vid] = VisitorRow(vid, since=details.at or "")
                    return True
            case VisitorCameOrWent():
                return self.visitors.pop(details.visitor.id, None) is not None
            case VisitorSeen():
                if details.visitor:
                    seen = self.visitors.setdefault(details.visitor, VisitorRow(details.visitor))
                    seen.url, seen.title, seen.since = (
                        details.url or "",
                        details.title or "",
                        details.at or "",
                    )
                    return True
            case ConvQueued():
                vid, who = _str(details.visitor, "id"), _str(details.visitor, "name")
                row = self.visitors.get(vid) if vid else self._by_conv(event.conv)
                self.queue[event.conv] = QueueRow(
                    event.conv, who or "Visitor", details.created_at or ""
                )
                if row is not None:
                    row.conv, row.conv_status = event.conv, "queued"
                    row.name = row.name or who
                return True
            case ConvAssigned():
                vid = _str(details.visitor, "id")
                row = self.visitors.get(vid) if vid else self._by_conv(event.conv)
                self.queue.pop(event.conv, None)
                self._count_load(details.agent.id, +1)
                if row is not None:
                    row.conv, row.conv_status = event.conv, "active"
                    row.agent = details.agent.name
                return True
            case ConvClosed():
                self.queue.pop(event.conv, None)
                row = self._by_conv(event.conv)
                if row is not None:
                    self._count_load(self._agent_named(row.agent), -1)
                    row.conv, row.conv_status, row.agent = "", "", ""
                return True
            case AgentStatusChanged():
                agent = self.agents.get(details.agent.id)
                if agent is not None:
                    agent.status = details.state or agent.status
                    return True
            case PresenceChanged() if event.name == EventName.AGENT_PRESENCE:
                agent = self.agents.get(details.who.id)
                if agent is not None:
                    agent.connected = details.connected
                    return True
        return False

    def _by_conv(self, conv: str) -> VisitorRow | None:
        return next((v for v in self.visitors.values() if conv and v.conv == conv), None)

    def _agent_named(self, name: str) -> str:
        return next((a.id for a in self.agents.values() if a.name == name and name), "")

    def _count_load(self, agent_id: str, delta: int) -> None:
        agent = self.agents.get(agent_id)
        if agent is not None:
            agent.load = max(0, agent.load + delta)

    def visitor_rows(self) -> list[VisitorRow]:
        """Those in a chat last, the rest by arrival on their page (longest there first)."""
        return sorted(self.visitors.values(), key=lambda v: (v.in_chat, v.since, v.id))

    def queue_rows(self) -> list[QueueRow]:
        return sorted(self.queue.values(), key=lambda q: (q.since, q.conv))

    def agent_rows(self) -> list[AgentRow]:
        return sorted(self.agents.values(), key=lambda a: (a.name.lower(), a.id))


def time_on_page(row: VisitorRow, now: datetime) -> str:
    return waited(row.since, now) if row.since else ""
