"""A lease in the shared database: which node of a cluster runs the scheduled jobs.

The holder renews it every third of its period; when the holder dies, the lease lapses
and the next node to ask takes it over (a node killed with ``kill -9`` is replaced within
one period plus one renewal interval). Nodes compare expiry times with their own clocks:
keep them in sync (NTP) to within a small part of the period.
"""

from __future__ import annotations

from dataclasses import dataclass

import peewee as pw

from backups.runs import now_ms
from server.storage.models import SchedulerLease


@dataclass(frozen=True)
class LeaseState:
    held: bool
    holder: str
    created_ms: int  # when the lease was first taken in this install


def try_hold(database: pw.Database, name: str, holder: str, period_secs: float) -> LeaseState:
    """Take or renew the lease when it is ours or has lapsed; report who holds it."""
    now = now_ms()
    expires = now + int(period_secs * 1000)
    with database.atomic():
        taken = (
            SchedulerLease.update(holder=holder, expires_ms=expires)
            .where(
                SchedulerLease.name == name,
                (SchedulerLease.holder == holder) | (SchedulerLease.expires_ms < now),
            )
            .execute()
        )
        if not taken:
            try:
                with database.atomic():
                    SchedulerLease.insert(
                        name=name, holder=holder, expires_ms=expires, created_ms=now
                    ).execute()
            except pw.IntegrityError:
                pass  # someone holds it (MySQL counts an UPDATE that changed nothing as 0)
        row = SchedulerLease.get(SchedulerLease.name == name)
    return LeaseState(row.holder == holder and row.expires_ms >= now, row.holder, row.created_ms)


def release(database: pw.Database, name: str, holder: str) -> None:
    """Give the lease up at once (a clean shutdown), so another node need not wait."""
    SchedulerLease.update(expires_ms=0).where(
        SchedulerLease.name == name, SchedulerLease.holder == holder
    ).execute()
