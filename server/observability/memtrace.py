"""Allocation snapshots on demand, for measuring memory per connection (the idle bench).

With ``STEADY_TRACEMALLOC_DIR`` set the node traces allocations from its start and, on each
SIGUSR1, writes ``tracemalloc-<n>.snap`` there (``tracemalloc.Snapshot.load`` reads it);
the bench compares two of them. Off by default: tracing slows every allocation.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import tracemalloc
from pathlib import Path

log = logging.getLogger(__name__)


def install(directory: str) -> None:
    """Start tracing and answer SIGUSR1 with a snapshot (call on the running loop)."""
    tracemalloc.start(1)
    numbers = itertools.count(1)
    target = Path(directory)

    def dump() -> None:
        path = target / f"tracemalloc-{next(numbers)}.snap"
        partial = path.with_suffix(".partial")
        tracemalloc.take_snapshot().dump(str(partial))
        partial.rename(path)  # whole files only: the reader waits for the name
        log.info("tracemalloc snapshot written to %s", path)

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump)
    log.warning("tracemalloc on (STEADY_TRACEMALLOC_DIR): allocations are slower")
