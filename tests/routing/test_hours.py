"""Schedule: working hours in a time zone. Pure logic."""

from __future__ import annotations

import datetime as dt

import pytest

from server.errors import BadRequest
from server.routing.hours import Schedule

SHANGHAI = {
    "tz": "Asia/Shanghai",
    "days": {"mon": [["09:00", "18:00"]], "tue": [["09:00", "12:00"], ["13:00", "18:00"]]},
}


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_open_inside_a_span_in_the_sites_time_zone() -> None:
    schedule = Schedule.parse(SHANGHAI)
    # Monday 2026-11-30 10:00 in Shanghai is 02:00 UTC.
    assert schedule.is_open(utc(2026, 11, 30, 2, 0))
    assert not schedule.is_open(utc(2026, 11, 30, 0, 59))  # 08:59 local
    assert not schedule.is_open(utc(2026, 11, 30, 10, 0))  # 18:00 local: the end is exclusive


def test_lunch_break_is_closed() -> None:
    schedule = Schedule.parse(SHANGHAI)
    assert not schedule.is_open(utc(2026, 12, 1, 4, 30))  # Tuesday 12:30 local
    assert schedule.is_open(utc(2026, 12, 1, 5, 0))  # 13:00 local


def test_next_open_is_the_next_span_start_in_utc() -> None:
    schedule = Schedule.parse(SHANGHAI)
    # Monday 19:00 local -> Tuesday 09:00 local = Tuesday 01:00 UTC.
    assert schedule.next_open(utc(2026, 11, 30, 11, 0)) == utc(2026, 12, 1, 1, 0)
    # Tuesday 12:30 local -> 13:00 local the same day.
    assert schedule.next_open(utc(2026, 12, 1, 4, 30)) == utc(2026, 12, 1, 5, 0)
    # Tuesday evening -> next Monday 09:00.
    assert schedule.next_open(utc(2026, 12, 1, 11, 0)) == utc(2026, 12, 7, 1, 0)


def test_never_open_has_no_next_open() -> None:
    schedule = Schedule.parse({"tz": "UTC", "days": {}})
    assert not schedule.is_open(utc(2026, 11, 30, 12, 0))
    assert schedule.next_open(utc(2026, 11, 30, 12, 0)) is None


def test_daylight_saving_time_is_followed() -> None:
    schedule = Schedule.parse({"tz": "Europe/Berlin", "days": {"mon": [["09:00", "17:00"]]}})
    assert schedule.is_open(utc(2026, 7, 6, 7, 30))  # summer: 09:30 CEST
    assert not schedule.is_open(utc(2026, 12, 7, 7, 30))  # winter: 08:30 CET
    assert schedule.is_open(utc(2026, 12, 7, 8, 30))


def test_round_trip_and_24_00() -> None:
    data = {"tz": "UTC", "days": {"sat": [["22:00", "24:00"]]}}
    schedule = Schedule.parse(data)
    assert schedule.to_json()["days"]["sat"] == [["22:00", "24:00"]]
    assert schedule.is_open(utc(2026, 12, 5, 23, 59))


@pytest.mark.parametrize(
    "bad",
    [
        None,
        {"days": {}},
        {"tz": "Mars/Olympus", "days": {}},
        {"tz": "UTC", "days": {"funday": []}},
        {"tz": "UTC", "days": {"mon": [["18:00", "09:00"]]}},
        {"tz": "UTC", "days": {"mon": [["9:00", "10:00"]]}},
        {"tz": "UTC", "days": {"mon": [["09:00"]]}},
        {"tz": "UTC", "days": {"mon": "09:00-18:00"}},
        {"tz": "UTC", "days": {"mon": [["25:00", "26:00"]]}},
    ],
)
def test_bad_schedules_are_refused(bad: object) -> None:
    with pytest.raises(BadRequest):
        Schedule.parse(bad)
