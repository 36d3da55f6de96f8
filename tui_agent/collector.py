"""Python's oldest generation of objects collected when the console is idle (issue #22).

CPython's cyclic collector walks every tracked object of the process for a collection of
its oldest generation: ~50 ms with 1,000 conversations waiting and 50 tabs open. It runs
one whenever enough younger collections have happened, which during a burst of events is
two or three times in 2 s, each a pause in front of whatever key comes next (the largest
single item of key to screen p99 in ``bench/console.py``). While the console runs, that
generation's threshold is set out of reach and the console collects it itself: when
nothing happened for :data:`IDLE_SECS` (no key, no server event, and the process used
little CPU since the last check: an event loop held up by other work is not idle), or,
on a desk that is never quiet, every :data:`MAX_GAP_SECS` anyway. The younger
generations (short pauses, ~0.1 ms) are left as they are; so is reference counting,
which frees most objects.

No Textual here: the app calls :meth:`IdleCollector.check` from a timer and
:meth:`IdleCollector.busy` on input and events.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

IDLE_SECS = 1.0  # quiet this long (no key, no server event): collect now
IDLE_CPU_SHARE = 0.2  # ... and the process used at most this share of a core meanwhile
MAX_GAP_SECS = 60.0  # never quiet: collect at least this often anyway
CHECK_SECS = 1.0  # how often the app asks
OUT_OF_REACH = 1_000_000  # younger collections before Python would collect by itself


def _pending() -> bool:
    """Whether objects reached the oldest generation since it was last collected."""
    return gc.get_count()[2] > 0


class IdleCollector:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[], object] = gc.collect,
        pending: Callable[[], bool] = _pending,
        cpu: Callable[[], float] = time.process_time,
    ) -> None:
        self.clock = clock
        self._collect = collect
        self._pending = pending
        self._cpu = cpu
        self.busy_at = self.collected_at = self.checked_at = clock()
        self.cpu_at = cpu()
        self.collecting = False  # True during a collection of ours (tests tell them apart)
        self._saved: tuple[int, int, int] | None = None

    @property
    def started(self) -> bool:
        return self._saved is not None

    def start(self) -> None:
        """Take the oldest generation over from Python's own schedule."""
        if self._saved is None:
            self._saved = gc.get_threshold()
            young, middle, _ = self._saved
            gc.set_threshold(young, middle, OUT_OF_REACH)
            # Until now Python's schedule collected: the gaps count from here, not from
            # the import (a console started a minute after would be "overdue" at once).
            self.busy_at = self.collected_at = self.checked_at = self.clock()
            self.cpu_at = self._cpu()

    def stop(self) -> None:
        """Python's schedule again (the console is closing)."""
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def busy(self) -> None:
        """A key or a server event: not a moment to pause."""
        self.busy_at = self.clock()

    def check(self) -> bool:
        """Collect if the console is idle (or has not collected for too long) and there
        is anything new to collect; True when it did."""
        if not self.started:
            return False
        now, cpu = self.clock(), self._cpu()
        share = (cpu - self.cpu_at) / max(now - self.checked_at, 1e-3)
        self.checked_at, self.cpu_at = now, cpu
        idle = now - self.busy_at >= IDLE_SECS and share <= IDLE_CPU_SHARE
        overdue = now - self.collected_at >= MAX_GAP_SECS
        if not (idle or overdue) or not self._pending():
            return False
        self.collecting = True
        try:
            self._collect()
        finally:
            self.collecting = False
        self.collected_at = self.checked_at = self.clock()
        self.cpu_at = self._cpu()
        return True


COLLECTOR = IdleCollector()  # the process's: the console app starts and stops it
