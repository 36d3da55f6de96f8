"""The conversation events chat emits on the bus: the committed message, typing, read.

Only chat's actions call these (the writer for messages, ``ChatService`` for the rest), so
every caller of an action (WebSocket, REST, CLI, a bridge) has the same effects; the
gateway publishes nothing (``tests/test_architecture.py``).
"""

from __future__ import annotations

from server.bus import Bus
from server.chat import topics
from server.chat.records import Actor, ConversationRef, StoredMessage


class MessagePublisher:
    """What the group-commit writer calls for each message, after its batch committed."""

    __slots__ = ("_bus",)

    def __init__(self, bus: Bus):
        self._bus = bus

    def __call__(self, message: StoredMessage) -> None:
        self._bus.publish(
            topics.conversation(message.conv), {"type": "message", "message": message}
        )


def publish_typing(bus: Bus, ref: ConversationRef, actor: Actor, on: bool) -> None:
    bus.publish(
        topics.conversation(ref.id),
        {"type": "typing", "conv": ref.id, "on": on, "sender": actor.wire()},
    )


def publish_read(bus: Bus, ref: ConversationRef, actor: Actor, seq: int) -> None:
    bus.publish(
        topics.conversation(ref.id),
        {"type": "read", "conv": ref.id, "seq": seq, "sender": actor.wire()},
    )
