"""The demo's printed logins, kept in a file of the data dir that only the owner can read.

The database never holds a password in plain text (issue #11: the demo kept them in a
setting that any local user could read in a world-readable SQLite file). This file,
``<data dir>/demo-logins.json`` (0600), remembers what ``steadydesk demo`` printed, so a
second run prints the same logins; where it is missing (another machine, a fresh data
dir) the demo sets new passwords and prints those.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOGINS_FILE = "demo-logins.json"


@contextlib.contextmanager
def locked_logins(data_dir: Path) -> Iterator[dict[str, Any]]:
    """The logins of every tenant, to read and change; written back (0600) on exit."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / LOGINS_FILE
    lock = os.open(data_dir / (LOGINS_FILE + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            logins: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            logins = {}
        before = json.dumps(logins, sort_keys=True)
        yield logins
        if json.dumps(logins, sort_keys=True) != before:
            _write_private(path, json.dumps(logins, indent=2, sort_keys=True))
    finally:
        os.close(lock)


def _write_private(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(temporary, path)
