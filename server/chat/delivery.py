"""Per-connection, per-conversation delivery cursor (no I/O).

It holds the last ``seq`` a connection has been given (or skipped, for messages it may
not see). A live message either goes out now, is a duplicate to drop, or reveals a gap;
on a gap the caller fetches the missing range from the database while later live
messages wait in ``pending``. This one mechanism merges a resume's replay with live
traffic, recovers from bus gaps, and guarantees increasing, never-repeated seqs.
"""

from __future__ import annotations

from enum import Enum

from server.chat.records import StoredMessage


class Offer(Enum):
    SEND = "send"
    DROP = "drop"
    HELD = "held"  # a fetch is running; the message waits in ``pending``
    GAP = "gap"  # the caller must start a fetch; the message waits in ``pending``


class StreamCursor:
    __slots__ = ("fetching", "pending", "pos")

    def __init__(self, pos: int):
        self.pos = pos
        self.fetching = False
        self.pending: list[StoredMessage] = []

    def offer(self, message: StoredMessage) -> Offer:
        if self.fetching:
            self.pending.append(message)
            return Offer.HELD
        if message.seq <= self.pos:
            return Offer.DROP
        if message.seq == self.pos + 1:
            self.pos = message.seq
            return Offer.SEND
        self.fetching = True
        self.pending.append(message)
        return Offer.GAP

    def accept_fetched(self, messages: list[StoredMessage]) -> list[StoredMessage]:
        """Messages from the database, in seq order: return those to send now."""
        out = []
        for message in messages:
            if message.seq > self.pos:
                self.pos = message.seq
                out.append(message)
        return out

    def drain_pending(self) -> tuple[list[StoredMessage], bool]:
        """After a fetch: release held messages. Returns (to send, another fetch needed)."""
        held = sorted(self.pending, key=lambda m: m.seq)
        self.pending = []
        out = []
        for index, message in enumerate(held):
            if message.seq <= self.pos:
                continue
            if message.seq == self.pos + 1:
                self.pos = message.seq
                out.append(message)
                continue
            self.pending = held[index:]  # still a gap: fetch again, keep these
            return out, True
        self.fetching = False
        return out, False
