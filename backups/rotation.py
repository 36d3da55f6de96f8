"""Archive names, listing, and rotation by count and age (daily, weekly, monthly).

An archive is named ``steadydesk-<UTC time>.tar.gz`` (``.tar.gz.enc`` when encrypted),
with ``.tenant-<id>`` before the extension for a single tenant's. Rotation keeps, among
the archives of the same kind (the whole install, or one tenant), the newest of each of
the last N days, ISO weeks and months that have one; the rest are removed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(
    r"^steadydesk-(?P<ts>\d{8}T\d{6}\d{3}Z)(?:\.tenant-(?P<tenant>[a-z0-9][a-z0-9_-]{0,62}))?"
    r"\.tar\.gz(?P<enc>\.enc)?$"
)
_TS = "%Y%m%dT%H%M%S"


def archive_name(created: dt.datetime, tenant: str | None, encrypted: bool) -> str:
    stamp = created.strftime(_TS) + f"{created.microsecond // 1000:03d}Z"
    tenant_part = f".tenant-{tenant}" if tenant else ""
    return f"steadydesk-{stamp}{tenant_part}.tar.gz{'.enc' if encrypted else ''}"


@dataclass(frozen=True)
class ArchiveFile:
    path: Path
    created: dt.datetime  # UTC, naive
    tenant: str | None
    encrypted: bool


def parse_name(path: Path) -> ArchiveFile | None:
    match = NAME.match(path.name)
    if match is None:
        return None
    ts = match["ts"]
    created = dt.datetime.strptime(ts[:15], _TS).replace(microsecond=int(ts[15:18]) * 1000)
    return ArchiveFile(path, created, match["tenant"], bool(match["enc"]))


def list_archives(directory: Path) -> list[ArchiveFile]:
    """The archives in ``directory``, newest first."""
    if not directory.is_dir():
        return []
    found = [a for p in directory.iterdir() if p.is_file() and (a := parse_name(p))]
    return sorted(found, key=lambda a: a.created, reverse=True)


@dataclass(frozen=True)
class Retention:
    daily: int = 0
    weekly: int = 0
    monthly: int = 0


def _newest_per_period(
    archives: Sequence[ArchiveFile], count: int, period: Callable[[dt.datetime], Hashable]
) -> set[Path]:
    kept: set[Path] = set()
    seen: set[Hashable] = set()
    for archive in archives:  # newest first
        key = period(archive.created)
        if key in seen:
            continue
        if len(seen) == count:
            break
        seen.add(key)
        kept.add(archive.path)
    return kept


def to_remove(archives: Sequence[ArchiveFile], keep: Retention) -> list[ArchiveFile]:
    """Which of ``archives`` (one kind, newest first) rotation removes; never the newest."""
    ordered = sorted(archives, key=lambda a: a.created, reverse=True)
    if not ordered:
        return []
    kept = {ordered[0].path}
    kept |= _newest_per_period(ordered, keep.daily, lambda t: t.date())
    kept |= _newest_per_period(ordered, keep.weekly, lambda t: t.isocalendar()[:2])
    kept |= _newest_per_period(ordered, keep.monthly, lambda t: (t.year, t.month))
    return [a for a in ordered if a.path not in kept]
