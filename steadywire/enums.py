"""The enums that travel on the wire, with the values docs/protocol.md gives them.

One home for the server (``server/kernel/enums.py`` re-exports them: the database stores
these very values), the console and the bridges, so a value cannot differ between them.
"""

from __future__ import annotations

from enum import StrEnum


class ConversationStatus(StrEnum):
    """A conversation's ``status`` (REST cards, ``conv.queued``)."""

    QUEUED = "queued"
    ACTIVE = "active"
    CLOSED = "closed"


class AgentStatus(StrEnum):
    """An agent's ``status`` (``you``, REST) and the ``state`` of ``status`` and
    ``agent.status``."""

    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class SenderType(StrEnum):
    """The ``type`` of whoever writes or acts: a message's ``sender``, an event's ``by``,
    ``from``, ``agent`` or ``assignee``, a welcome's ``you``. Messages come from the first
    four; a bridge is the ``type`` of its own ``you``; an operator acts in a tenant with
    an operator token (docs/protocol.md, SaaS mode) and is named as such."""

    VISITOR = "visitor"
    AGENT = "agent"
    AI = "ai"
    SYSTEM = "system"
    OPERATOR = "operator"
    BRIDGE = "bridge"


class MessageKind(StrEnum):
    """A message's ``kind``: a note is for agents only."""

    TEXT = "text"
    NOTE = "note"
