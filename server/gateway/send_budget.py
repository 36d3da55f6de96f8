"""How many bytes this node holds for clients that have not read them yet (issue #11).

Each connection may hold up to its own budget; the node as a whole up to the node
budget. Past either, a connection is closed 1013 and its queue dropped: it resumes from
its last seq, so nothing is lost, and a client that never reads cannot make the node
keep its frames (a 500-message batch was ~10 MB; 50 such clients grew a node by 446 MB in
a minute). Plain bookkeeping: the connection reports what it queues and writes.
"""

from __future__ import annotations

from typing import Protocol


class Holder(Protocol):
    @property
    def held_bytes(self) -> int: ...

    def shed(self, reason: str) -> None:
        """Drop what is queued and close (1013)."""


class NodeSendBudget:
    def __init__(self, limit_bytes: int):
        self.limit_bytes = limit_bytes
        self.total = 0
        self._holders: set[Holder] = set()

    def add(self, holder: Holder, size: int) -> None:
        self.total += size
        self._holders.add(holder)
        while self.total > self.limit_bytes and self._holders:
            largest = max(self._holders, key=lambda h: h.held_bytes)
            if largest.held_bytes <= 0:
                break
            largest.shed("the node's send buffers are full, resume")

    def release(self, holder: Holder, size: int) -> None:
        self.total -= size
        if holder.held_bytes <= 0:
            self._holders.discard(holder)
