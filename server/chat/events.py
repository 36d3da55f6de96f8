"""The conversation events chat emits on the bus: the committed message, typing, read.

Only chat's actions call these (the writer for messages, ``ChatService`` for the rest), so
every caller of an action (WebSocket, REST, CLI, a bridge) has the same effects; the
gateway publishes nothing (``tests/test_architecture.py``).
"""

from __future__ import annotations

from server.bus import Bus
from server.chat.records import StoredMessage
from server.kernel import topics
from server.kernel.actors import Actor, ConversationRef
from steadywire.server_frames import ReadNotice, Sender, TypingNotice


class MessagePublisher:
    """What the group-commit writer calls for each message, after its batch committed."""

    __slots__ = ("_bus",)

    def __init__(self, bus: Bus):
        self._bus = bus

    def __call__(self, message: StoredMessage) -> None:
        # The bus's envelope of a stored message; each node builds the frame per receiver.
        self._bus.publish(
            topics.conversation(message.conv), {"type": "message", "message": message}
        )


def publish_typing(bus: Bus, ref: ConversationRef, actor: Actor, on: bool) -> None:
    typing = TypingNotice(ref.id, on, Sender(**actor.wire()))
    bus.publish(topics.conversation(ref.id), typing.to_wire())


def publish_read(bus: Bus, ref: ConversationRef, actor: Actor, seq: int) -> None:
    read = ReadNotice(ref.id, seq, Sender(**actor.wire()))
    bus.publish(topics.conversation(ref.id), read.to_wire())
