"""Private files and directories: archives and exports hold every conversation, so they are
created 0600 in 0700 directories from the first byte (never chmod-ed after the fact), and
appear under their final name only once complete."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) 0700; an existing one open to others is
    reported, not changed (it may be a mount the operator chose)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o): archives in it stay 0600", path, mode)
    return path


def create_private(path: Path) -> BinaryIO:
    """A new file opened for writing, 0600 from creation; fails if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


@contextlib.contextmanager
def atomic_private_file(final: Path) -> Iterator[BinaryIO]:
    """Write to a hidden temporary file beside ``final``; rename it into place (after
    fsync) only when the block succeeds, remove it otherwise."""
    temp = final.with_name(f".{final.name}.partial")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()  # left by a crash: never a valid archive
    fh = create_private(temp)
    try:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(temp, final)
        _fsync_dir(final.parent)
    except BaseException:
        fh.close()
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class HashingWriter:
    """Counts and hashes every byte on its way to ``out``."""

    def __init__(self, out: Sink):
        self._out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        flush = getattr(self._out, "flush", None)
        if flush is not None:
            flush()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
