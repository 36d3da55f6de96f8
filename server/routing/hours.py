"""Working hours: a weekly schedule in an IANA time zone. Pure logic, no I/O.

``{"tz": "Asia/Shanghai", "days": {"mon": [["09:00", "18:00"]], "sat": []}}``: a day not
listed (or listed empty) is closed; a span ends before it starts is refused (split a
night shift into two days: ``"mon": [["22:00", "24:00"]], "tue": [["00:00", "06:00"]]``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.errors import BadRequest

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SPANS_PER_DAY = 8
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


def _minutes(value: object) -> int:
    if not isinstance(value, str) or not _TIME.match(value):
        raise BadRequest("times are HH:MM, 00:00 to 24:00")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class Schedule:
    tz: ZoneInfo
    spans: tuple[tuple[tuple[int, int], ...], ...]  # per weekday (mon=0), minutes from midnight

    @classmethod
    def parse(cls, data: object) -> Schedule:
        """Validate an admin's schedule; raises BadRequest with what is wrong."""
        if not isinstance(data, dict):
            raise BadRequest("hours must be an object with tz and days")
        tz_name = data.get("tz")
        if not isinstance(tz_name, str) or not tz_name:
            raise BadRequest("hours.tz must be an IANA time zone such as Asia/Shanghai")
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadRequest(f"unknown time zone {tz_name[:60]!r}") from None
        days = data.get("days") or {}
        if not isinstance(days, dict) or set(days) - set(DAYS):
            raise BadRequest("hours.days maps mon..sun to lists of [start, end]")
        spans: list[tuple[tuple[int, int], ...]] = []
        for day in DAYS:
            raw = days.get(day) or []
            if not isinstance(raw, list) or len(raw) > MAX_SPANS_PER_DAY:
                raise BadRequest(f"hours.days.{day} must be a list of [start, end]")
            day_spans = []
            for span in raw:
                if not isinstance(span, list) or len(span) != 2:
                    raise BadRequest(f"hours.days.{day} must be a list of [start, end]")
                start, end = _minutes(span[0]), _minutes(span[1])
                if start >= end:
                    raise BadRequest(f"hours.days.{day}: {span[0]} is not before {span[1]}")
                day_spans.append((start, end))
            spans.append(tuple(sorted(day_spans)))
        return cls(tz, tuple(spans))

    def to_json(self) -> dict[str, Any]:
        return {
            "tz": self.tz.key,
            "days": {
                day: [[_hhmm(a), _hhmm(b)] for a, b in self.spans[i]] for i, day in enumerate(DAYS)
            },
        }

    def is_open(self, now: dt.datetime) -> bool:
        local = now.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.spans[local.weekday()])

    def next_open(self, now: dt.datetime) -> dt.datetime | None:
        """The next moment (UTC) a span starts after ``now``; None if never open."""
        local = now.astimezone(self.tz)
        for ahead in range(8):
            day = (local + dt.timedelta(days=ahead)).date()
            for start, _end in self.spans[day.weekday()]:
                hours, minutes = divmod(start, 60)
                naive = dt.datetime.combine(day, dt.time(hours % 24, minutes))
                opens = naive.replace(tzinfo=self.tz)
                if opens > now:
                    return opens.astimezone(dt.UTC)
        return None


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
