"""How ``fab health`` judges a probe (no host): the backup line's thresholds."""

from __future__ import annotations

import calendar
import time

from ops.deployment import Deployment, Tls
from ops.health import BACKUP_RED_AGE_SECS, backup_cell

NOW = 2_000_000_000.0


def _deployment(installed_secs_ago: float) -> Deployment:
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - installed_secs_ago))
    assert calendar.timegm(time.strptime(at, "%Y-%m-%dT%H:%M:%SZ")) == int(NOW - installed_secs_ago)
    return Deployment(
        nodes=2, https_port=443, server_name="h", domain=None, tenant="t", mode="SelfHosted",
        tls=Tls("self-signed", "c", "k"), installed_at=at,
    )  # fmt: skip


def _metrics(success: float, attempt: float, result: float) -> dict[str, float]:
    return {
        "steadydesk_backup_last_success_timestamp_seconds": success,
        "steadydesk_backup_last_attempt_timestamp_seconds": attempt,
        "steadydesk_backup_last_result": result,
        "steadydesk_backup_last_size_bytes": 2048.0,
    }


def test_a_release_without_backup_metrics_is_not_judged() -> None:
    assert not backup_cell(None, _deployment(10 * 86400), NOW).red


def test_no_backup_yet_is_red_only_once_the_install_is_older_than_the_schedule() -> None:
    assert not backup_cell(_metrics(0, 0, 0), _deployment(3600), NOW).red
    assert backup_cell(_metrics(0, 0, 0), _deployment(BACKUP_RED_AGE_SECS + 60), NOW).red


def test_a_recent_success_is_green_an_old_one_red() -> None:
    fresh = backup_cell(_metrics(NOW - 600, NOW - 610, 1), _deployment(86400 * 30), NOW)
    assert not fresh.red and "10 min ago" in fresh.text
    old = backup_cell(
        _metrics(NOW - BACKUP_RED_AGE_SECS - 60, NOW - BACKUP_RED_AGE_SECS - 70, 1),
        _deployment(86400 * 30), NOW,
    )  # fmt: skip
    assert old.red and "OLDER than 26 h" in old.text


def test_a_failed_last_attempt_is_red_even_after_a_recent_success() -> None:
    failed = backup_cell(_metrics(NOW - 3600, NOW - 60, 0), _deployment(86400 * 30), NOW)
    assert failed.red and "FAILED" in failed.text
