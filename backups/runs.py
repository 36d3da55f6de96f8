"""The record of backup attempts (table ``backup_run``), and the metrics read from it.

Every attempt is recorded, from the CLI as from the scheduler, before it starts and when
it ends; a failure is recorded with its error, so it shows in ``/metrics`` and in
``fab health`` instead of passing in silence.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import peewee as pw

from server.observability import metrics
from server.storage.models import BackupRun

log = logging.getLogger(__name__)

ERROR_MAX_CHARS = 1000


def now_ms() -> int:
    return int(time.time() * 1000)


def start_run(node: str, tenant: str | None, scheduled_for_ms: int | None = None) -> int | None:
    """Record an attempt starting; None when a scheduled run was already claimed (by
    another node, for the same fire time)."""
    try:
        row = BackupRun.create(
            scheduled_for_ms=scheduled_for_ms,
            tenant=tenant,
            node=node[:200],
            started_ms=now_ms(),
        )
    except pw.IntegrityError:
        return None
    return int(row.id)


def finish_run(
    run_id: int, *, ok: bool, size: int | None = None, archive: str = "", error: str = ""
) -> None:
    BackupRun.update(
        finished_ms=now_ms(),
        ok=ok,
        size=size,
        archive=archive[:1000],
        error=error[:ERROR_MAX_CHARS],
    ).where(BackupRun.id == run_id).execute()


@dataclass(frozen=True)
class BackupStatus:
    last_success_ms: int
    last_attempt_ms: int
    last_size: int
    last_ok: bool


def backup_status() -> BackupStatus:
    """Whole-install and tenant backups alike: any backup is a backup of something."""
    success = (
        BackupRun.select(BackupRun.finished_ms, BackupRun.size)
        .where(BackupRun.ok == True)  # noqa: E712  (SQL, not Python)
        .order_by(BackupRun.finished_ms.desc())
        .first()
    )
    attempt = BackupRun.select(BackupRun.started_ms).order_by(BackupRun.started_ms.desc()).first()
    finished = (
        BackupRun.select(BackupRun.ok)
        .where(BackupRun.finished_ms.is_null(False))
        .order_by(BackupRun.finished_ms.desc())
        .first()
    )
    return BackupStatus(
        last_success_ms=success.finished_ms if success else 0,
        last_attempt_ms=attempt.started_ms if attempt else 0,
        last_size=(success.size or 0) if success else 0,
        last_ok=bool(finished and finished.ok),
    )


def publish_metrics(status: BackupStatus) -> None:
    metrics.BACKUP_LAST_SUCCESS.set(status.last_success_ms / 1000)
    metrics.BACKUP_LAST_ATTEMPT.set(status.last_attempt_ms / 1000)
    metrics.BACKUP_LAST_SIZE.set(status.last_size)
    metrics.BACKUP_LAST_RESULT.set(1 if status.last_ok else 0)


def last_scheduled_ms() -> int:
    """The latest fire time a node has claimed (0 when none)."""
    row = (
        BackupRun.select(BackupRun.scheduled_for_ms)
        .where(BackupRun.scheduled_for_ms.is_null(False))
        .order_by(BackupRun.scheduled_for_ms.desc())
        .first()
    )
    return int(row.scheduled_for_ms) if row else 0
