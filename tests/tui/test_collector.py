"""The oldest generation of Python's objects is collected when the console is idle, not in
the middle of a burst (issue #22: a ~50 ms pause in front of the next key)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

from tests.tui.conftest import console
from tui_agent.collector import (
    COLLECTOR,
    IDLE_CPU_SHARE,
    IDLE_SECS,
    MAX_GAP_SECS,
    OUT_OF_REACH,
    IdleCollector,
)
from tui_agent.screens.login import LoginScreen


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.cpu = 0.0  # the process's CPU seconds

    def __call__(self) -> float:
        return self.now


def collector(clock: Clock, pending: bool = True) -> tuple[IdleCollector, list[float]]:
    done: list[float] = []
    made = IdleCollector(
        clock,
        collect=lambda: done.append(clock.now),
        pending=lambda: pending,
        cpu=lambda: clock.cpu,
    )
    return made, done


def test_collects_once_the_console_is_quiet_not_while_busy() -> None:
    clock = Clock()
    idle, done = collector(clock)
    idle.start()
    try:
        idle.busy()
        clock.now += IDLE_SECS / 2
        assert not idle.check() and done == [], "a key half a second ago"
        idle.busy()  # a server event
        clock.now += IDLE_SECS
        assert idle.check() and done == [clock.now]
    finally:
        idle.stop()


def test_an_event_loop_held_up_by_other_work_is_not_idle() -> None:
    """No key or event came for a second because the process was busy (its loop held
    up): collecting then would add to the wait."""
    clock = Clock()
    idle, done = collector(clock)
    idle.start()
    try:
        idle.busy()
        clock.now += IDLE_SECS
        clock.cpu += IDLE_SECS * (IDLE_CPU_SHARE + 0.3)
        assert not idle.check() and done == []
        clock.now += IDLE_SECS  # and now quiet for real
        assert idle.check() and done == [clock.now]
    finally:
        idle.stop()


def test_a_desk_never_quiet_is_collected_every_max_gap() -> None:
    clock = Clock()
    idle, done = collector(clock)
    idle.start()
    try:
        while clock.now < 100.0 + MAX_GAP_SECS - 1:
            clock.now += 0.5
            idle.busy()
            assert not idle.check()
        clock.now += 1.0
        idle.busy()
        assert idle.check() and done == [clock.now]
    finally:
        idle.stop()


def test_nothing_to_collect_or_not_started_does_nothing() -> None:
    clock = Clock()
    idle, done = collector(clock, pending=False)
    clock.now += MAX_GAP_SECS
    assert not idle.check(), "not started"
    idle.start()
    try:
        assert not idle.check() and done == []
    finally:
        idle.stop()


def test_the_gaps_count_from_the_start_not_from_when_the_collector_was_made() -> None:
    """The console's collector is made at import; a console started (or a second one run)
    a minute later is not overdue at its first key (a collection mid-burst in CI)."""
    clock = Clock()
    idle, done = collector(clock)
    clock.now += MAX_GAP_SECS + 5
    clock.cpu += MAX_GAP_SECS  # busy meanwhile: not idle either
    idle.start()
    try:
        clock.now += 0.5
        idle.busy()
        assert not idle.check() and done == []
    finally:
        idle.stop()


def test_start_and_stop_take_the_oldest_generation_over_and_give_it_back() -> None:
    before = gc.get_threshold()
    idle = IdleCollector()
    idle.start()
    try:
        assert gc.get_threshold() == (before[0], before[1], OUT_OF_REACH)
    finally:
        idle.stop()
    assert gc.get_threshold() == before


@pytest.mark.serial
async def test_the_console_collects_the_oldest_generation_only_when_idle(
    config_dir: Path,
) -> None:
    """Objects that outlive young collections pile up (as a burst's conversations do) while
    keys are pressed: Python would collect its oldest generation several times; the
    console does not, and does once the keys stop."""
    ours: list[bool] = []

    def seen(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 2:
            ours.append(COLLECTOR.collecting)

    before = gc.get_threshold()
    kept: list[object] = []
    gc.callbacks.append(seen)
    try:
        async with console(config_dir).run_test() as pilot:
            await pilot.pause()
            assert isinstance(pilot.app.screen, LoginScreen)
            gc.collect()
            ours.clear()
            for _ in range(40):
                kept.extend({"n": [i]} for i in range(10_000))  # 2 tracked objects each
                await pilot.press("x")
            assert ours == [], f"collections of the oldest generation during keys: {ours}"
            await pilot.pause(IDLE_SECS + 1.5)
            assert ours and all(ours), "collected, by the console, once idle"
        assert gc.get_threshold() == before, "Python's own schedule back when the app ends"
    finally:
        gc.callbacks.remove(seen)
