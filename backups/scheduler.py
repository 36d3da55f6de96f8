"""The nightly backup and its rotation, run by exactly one node of a cluster.

Every node runs an APScheduler (3.11, ``AsyncIOScheduler`` on the server's loop) with two
jobs: a renewal of the scheduler lease (backups/lease.py) every third of its period, which
also refreshes this node's backup metrics from the shared database; and the backup itself,
on the configured cron schedule, which only the lease holder runs. Each scheduled run
claims its fire time in ``backup_run`` (a unique column), so even two nodes that both
believed they held the lease would not both run it; and a holder that takes over runs a
fire time the dead holder missed (one that passed after the lease was first taken).

A failed backup is recorded with its error and logged at ERROR: ``/metrics`` shows
``steadydesk_backup_last_result 0`` on every node.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import peewee as pw
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from backups import lease, runs
from backups.backup import BackupOptions, run_backup
from backups.rotation import Retention
from server.config import Settings
from server.errors import ConfigError
from server.observability import metrics

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

LEASE_NAME = "backup-scheduler"
STOP_WAIT_SECS = 5.0
MAX_CATCH_UP_STEPS = 100_000


def parse_schedule(schedule: str) -> CronTrigger | None:
    """Five cron fields (minute hour day month day-of-week, UTC; day names are safest), or
    six with seconds first; empty: no scheduled backups."""
    fields = schedule.split()
    if not fields:
        return None
    try:
        if len(fields) == 5:
            return CronTrigger.from_crontab(schedule, timezone=dt.UTC)
        if len(fields) == 6:
            second, minute, hour, day, month, day_of_week = fields
            return CronTrigger(
                second=second,
                minute=minute,
                hour=hour,
                day=day,
                month=month,
                day_of_week=day_of_week,
                timezone=dt.UTC,
            )
    except ValueError as err:
        raise ConfigError(f"bad configuration: backup_schedule {schedule!r}: {err}") from None
    raise ConfigError(
        f"bad configuration: backup_schedule {schedule!r}: five cron fields (or six with "
        "seconds first), or empty for none"
    )


def due_fire_ms(trigger: CronTrigger, after_ms: int, now_ms: int) -> int | None:
    """The latest fire time in (after_ms, now_ms], if any."""
    moment = dt.datetime.fromtimestamp(after_ms / 1000, dt.UTC)
    latest = None
    for _ in range(MAX_CATCH_UP_STEPS):
        fire = trigger.get_next_fire_time(None, moment)
        if fire is None:
            break
        fire_ms = int(fire.timestamp() * 1000)
        if fire_ms > now_ms:
            break
        if fire_ms > after_ms:
            latest = fire_ms
        moment = fire + dt.timedelta(milliseconds=1)
    return latest


class BackupScheduler:
    def __init__(self, settings: Settings, database: pw.Database):
        self.settings = settings
        self.database = database
        self.node = settings.node_name
        self.trigger = parse_schedule(settings.backup_schedule)
        self.period = settings.backup_lease_secs
        self.leader = False
        self._lease_created_ms = 0
        self._scheduler: AsyncIOScheduler | None = None
        self._backup: asyncio.Task[None] | None = None
        self._stopping = threading.Event()  # a backup running at shutdown gives up
        self._chores: list[tuple[str, Callable[[], object], float]] = []

    def add_chore(self, name: str, work: Callable[[], object], every_secs: float) -> None:
        """Blocking cluster-wide upkeep (e.g. collecting unclaimed attachments) that only
        the lease holder runs, every ``every_secs``; call before ``start``."""
        self._chores.append((name, work, every_secs))

    async def _chore(self, name: str, work: Callable[[], object]) -> None:
        if not self.leader:
            return
        try:
            await self._db(work)
        except Exception:
            log.exception("scheduled chore %s failed", name)

    def _in_db(self, call: Callable[[], T]) -> T:
        with self.database.connection_context():
            return call()

    async def _db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn`` on a thread of its own with a connection (a backup runs for minutes: it
        must not hold one of the query pool's threads)."""
        return await asyncio.to_thread(self._in_db, functools.partial(fn, *args, **kwargs))

    def start(self) -> None:
        # Its INFO lines would log every lease renewal; its warnings and errors still show.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        scheduler = AsyncIOScheduler(timezone=dt.UTC)
        renew = IntervalTrigger(seconds=max(0.5, self.period / 3), timezone=dt.UTC)
        scheduler.add_job(
            self.tick,
            renew,
            next_run_time=dt.datetime.now(dt.UTC),
            max_instances=1,
            coalesce=True,
            id="lease",
        )
        if self.trigger is not None:
            scheduler.add_job(
                self.run_due,
                self.trigger,
                max_instances=1,
                coalesce=True,
                id="backup",
                misfire_grace_time=None,
            )
        for name, work, every in self._chores:
            scheduler.add_job(
                self._chore,
                IntervalTrigger(seconds=every, timezone=dt.UTC),
                args=(name, work),
                max_instances=1,
                coalesce=True,
                id=f"chore-{name}",
            )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._backup is not None and not self._backup.done():
            log.warning("shutting down during a scheduled backup: it stops, recorded as failed")
            self._stopping.set()
            # Its thread notices within a few thousand rows and records the failure.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._backup), STOP_WAIT_SECS)
        if self.leader:
            with contextlib.suppress(Exception):
                await self._db(lease.release, self.database, LEASE_NAME, self.node)
        self.leader = False
        metrics.BACKUP_SCHEDULER_LEADER.set(0)

    async def tick(self) -> None:
        """Renew (or take) the lease, refresh the metrics, run a missed backup if owed."""
        try:
            state = await self._db(
                lease.try_hold, self.database, LEASE_NAME, self.node, self.period
            )
            status = await self._db(runs.backup_status)
        except Exception as err:  # the database is down: nobody can hold the lease now
            log.warning("backup scheduler: %s", err)
            self.leader = False
            metrics.BACKUP_SCHEDULER_LEADER.set(0)
            return
        if state.held and not self.leader:
            log.info("backup scheduler: this node (%s) runs the scheduled backups", self.node)
        self.leader = state.held
        self._lease_created_ms = state.created_ms
        metrics.BACKUP_SCHEDULER_LEADER.set(1 if state.held else 0)
        runs.publish_metrics(status)
        if self.leader:
            await self.run_due()

    async def run_due(self) -> None:
        """Start the backup of the latest fire time not yet claimed (leader only)."""
        if not self.leader or self.trigger is None:
            return
        if self._backup is not None and not self._backup.done():
            return
        claimed = await self._db(runs.last_scheduled_ms)
        after = max(self._lease_created_ms, claimed)
        fire = due_fire_ms(self.trigger, after, runs.now_ms())
        if fire is not None:
            self._backup = asyncio.create_task(self._run(fire))

    async def _run(self, fire_ms: int) -> None:
        options = BackupOptions(
            to=Path(self.settings.backup_dir) if self.settings.backup_dir else None,
            keep=Retention(
                self.settings.backup_keep_daily,
                self.settings.backup_keep_weekly,
                self.settings.backup_keep_monthly,
            ),
            stop=self._stopping,
        )
        try:
            result = await self._db(self._backup_now, options, fire_ms)
        except Exception as err:
            message = getattr(err, "message", None) or str(err) or type(err).__name__
            log.error("scheduled backup failed: %s", message)
            metrics.BACKUP_LAST_ATTEMPT.set(runs.now_ms() / 1000)
            metrics.BACKUP_LAST_RESULT.set(0)
            return
        if result is not None:
            log.info("scheduled backup written: %s", result["archive"])
        with contextlib.suppress(Exception):
            runs.publish_metrics(await self._db(runs.backup_status))

    def _backup_now(self, options: BackupOptions, fire_ms: int) -> dict[str, Any] | None:
        return run_backup(
            self.settings, self.database, options, node=self.node, scheduled_for_ms=fire_ms
        )
