"""Tests marked ``serial`` run alone while the suite runs on several xdist workers.

``task test`` runs test files on two workers: the suite mostly waits on servers, sockets
and timers. Tests that measure time or CPU (a latency bound, a p99, a cost ratio) were
written for one test at a time on the machine, so each worker holds a lock around every
test it runs (setup, call and teardown): shared for ordinary tests, exclusive for
``serial`` ones. A turnstile in front lets a waiting ``serial`` test in before ordinary
tests that come after it, so it is never starved. Without xdist this does nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def run_id(config: Any) -> str | None:
    """xdist's id of this run, the same in every worker of it; None outside a worker (a
    pytest started by a test inherits the environment, so not from there)."""
    workerinput = getattr(config, "workerinput", None)
    return None if workerinput is None else str(workerinput["testrunuid"])


@contextlib.contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def turn(run: str | None, serial: bool) -> Iterator[None]:
    """Hold the lock of run ``run`` for one test: exclusive when ``serial``, else shared."""
    if run is None:
        yield
        return
    base = Path(tempfile.gettempdir()) / f"steadydesk-tests-{run}"
    base.mkdir(exist_ok=True)
    gate, room = base / "turnstile.lock", base / "tests.lock"
    with contextlib.ExitStack() as held:
        with _flock(gate, fcntl.LOCK_EX):  # in line behind a serial test that waits
            held.enter_context(_flock(room, fcntl.LOCK_EX if serial else fcntl.LOCK_SH))
        yield
