"""The domain's vocabulary: what a conversation, an agent or a sender can be.

Plain enums (stored as their values), shared by chat, routing and admin and used by the
tables' columns in ``server/storage/models.py``; no peewee here, so sans-I/O code (the
routing policy) can name them without pulling in the database.
"""

from __future__ import annotations

from enum import StrEnum

# The enums that travel on the wire live in steadywire (pure, like the kernel), so the
# server, the console and the bridges share one definition; the tables store their values.
from steadywire.enums import AgentStatus as AgentStatus
from steadywire.enums import ConversationStatus as ConversationStatus
from steadywire.enums import MessageKind as MessageKind
from steadywire.enums import SenderType as SenderType


class Role(StrEnum):
    AGENT = "agent"
    ADMIN = "admin"


class BridgeKind(StrEnum):
    """What a bridge connects to; a later kind (an AI responder) is one more member."""

    SLACK = "slack"
    TELEGRAM = "telegram"
    AI = "ai"  # the AI responder (bots/ai): sends as itself, holds conversations


class AiMode(StrEnum):
    """When a site's conversations go to the tenant's AI robot first (docs/bridges.md)."""

    OFF = "off"
    FIRST_LINE = "first_line"
    WHEN_NO_AGENT = "when_no_agent"


class HandoffReason(StrEnum):
    """Why a conversation left the AI robot (recorded, reported)."""

    VISITOR_ASKED = "visitor_asked"
    LOW_CONFIDENCE = "low_confidence"
    NO_ANSWER = "no_answer"
    AI_UNAVAILABLE = "ai_unavailable"
    OTHER = "other"
    VISITOR_BUTTON = "visitor_button"  # the widget's frame, without the robot


class RoutingPolicy(StrEnum):
    MANUAL = "manual"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


# Conversation.assignee_type of a conversation a robot holds (NULL: an agent holds it).
ROBOT_ASSIGNEE = "ai"
# The role of the AI robot's actor (a bridge of kind ai, docs/bridges.md "Kind ai").
ROBOT_ROLE = "ai"
