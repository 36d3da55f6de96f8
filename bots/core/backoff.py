"""Reconnect delays: exponential with jitter, capped, reset after a good connection."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Backoff:
    """Attempt n waits uniformly in [d/2, d] with d = base * 2**(n-1), at most ``cap``:
    spread out, so a restarted server is not hit by every bridge at the same instant."""

    base_secs: float = 0.5
    cap_secs: float = 15.0
    rand: Callable[[], float] = random.random
    attempt: int = 0

    def next_delay(self) -> float:
        self.attempt += 1
        ceiling = min(self.cap_secs, self.base_secs * 2.0 ** min(self.attempt - 1, 30))
        return ceiling / 2 + ceiling / 2 * self.rand()

    def reset(self) -> None:
        self.attempt = 0
