"""Sans-I/O pieces of the client: per-conversation seq bookkeeping and reconnect backoff.

Both are plain classes, tested without sockets (tests/tui/test_streams.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tui_agent.models import ChatMessage


@dataclass
class SeqTracker:
    """Which seqs of one conversation the console has.

    Live frames, a resume's replay, ``sync`` pages and ``conv.queued`` previews can
    overlap in any order; keeping the set (not just the highest seq) lets each message
    through exactly once whatever the order (PROTOCOL §2: "clients drop any seq they
    already have").
    """

    followed: bool = False  # named in `resume` on every (re)connect
    seqs: set[int] = field(default_factory=set)

    @property
    def last(self) -> int:
        """The highest seq held: the position to ``resume`` from."""
        return max(self.seqs, default=0)

    @property
    def contiguous(self) -> int:
        """The highest n with 1..n all held: where a ``sync`` fills from.

        Agents see every seq (notes and system messages included), so for them a hole
        below this is never legitimate.
        """
        n = 0
        while n + 1 in self.seqs:
            n += 1
        return n

    def admit(self, messages: Iterable[ChatMessage]) -> list[ChatMessage]:
        """The messages not seen before, in seq order; marks them seen."""
        fresh: dict[int, ChatMessage] = {}
        for message in messages:
            if message.seq > 0 and message.seq not in self.seqs and message.seq not in fresh:
                fresh[message.seq] = message
        self.seqs.update(fresh)
        return [fresh[seq] for seq in sorted(fresh)]


@dataclass
class Backoff:
    """Exponential backoff with full jitter, capped; reset after a good connection.

    ``delay()`` for attempt n (1-based) is uniform in [base * 2**(n-1) / 2, that],
    at most ``cap``: spread out so a restarted node is not hit by every console at once.
    """

    base_secs: float = 0.5
    cap_secs: float = 15.0
    rand: Callable[[], float] = random.random
    attempt: int = 0

    def next_delay(self) -> float:
        self.attempt += 1
        ceiling = min(self.cap_secs, self.base_secs * 2.0 ** (self.attempt - 1))
        return ceiling / 2 + ceiling / 2 * self.rand()

    def reset(self) -> None:
        self.attempt = 0
