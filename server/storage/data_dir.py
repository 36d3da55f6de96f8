"""The data dir is the owner's alone: 0700, its files 0600 (issue #11, finding 4).

It holds the SQLite database (password hashes, API and site secrets, every message),
the token-signing key, the demo's logins and backups. New files are made private by the
process umask (SQLite creates ``-wal``/``-shm`` with the database's mode); a data dir of
an older release, made under a looser umask, is tightened at start with one log line.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from server.errors import StartupError

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077  # no bit for the group or others: dirs 0700, files 0600


def restrict_new_files() -> None:
    """Every file and directory this process creates is private to its owner."""
    os.umask(PRIVATE_UMASK)


def secure_data_dir(data_dir: Path) -> None:
    """Create the data dir private, or tighten an existing one and what it holds."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    loose: list[Path] = []
    for path in [data_dir, *_contents(data_dir)]:
        if path.lstat().st_mode & PRIVATE_UMASK:
            loose.append(path)
    if not loose:
        return
    try:
        for path in loose:  # the owner's own bits stay as they are
            os.chmod(path, stat.S_IMODE(path.lstat().st_mode) & ~PRIVATE_UMASK)
    except OSError as err:
        raise StartupError(
            f"data dir {data_dir} is readable by other users and cannot be made private "
            f"({err.strerror}): run `chmod -R go= {data_dir}` as its owner"
        ) from None
    log.warning(
        "data dir %s was readable by other users: made it and %d file(s) in it private "
        "to its owner (0700/0600)",
        data_dir,
        len(loose) - 1 if loose[0] == data_dir else len(loose),
    )


def _contents(data_dir: Path) -> list[Path]:
    """Files and directories under the data dir (symbolic links are not followed)."""
    found: list[Path] = []
    for root, dirs, files in os.walk(data_dir):
        for name in dirs + files:
            path = Path(root) / name
            if not path.is_symlink():
                found.append(path)
    return found
