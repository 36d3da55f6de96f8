"""A site's working hours and pre-chat form as an admin types them, and what a visitor
then sees in the widget (the preview beside the editor). No Textual here.

Hours are typed one line per day, ``09:00-12:00, 13:00-18:00`` (empty: closed), and sent
as the server's schedule (``docs/routing.md``); the server checks them again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRECHAT_FIELDS = ("name", "email", "department")
FIELD_LABELS = {"name": "Name", "email": "E-mail", "department": "Department"}
_SPAN = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")


class BadHours(ValueError):
    pass


def spans_text(spans: object) -> str:
    """``[["09:00", "12:00"], ...]`` -> ``09:00-12:00, ...``."""
    if not isinstance(spans, list):
        return ""
    return ", ".join(f"{s[0]}-{s[1]}" for s in spans if isinstance(s, list) and len(s) == 2)


def parse_spans(day: str, typed: str) -> list[list[str]]:
    spans = []
    for part in (p for p in typed.split(",") if p.strip()):
        match = _SPAN.match(part)
        if match is None:
            raise BadHours(f"{day}: {part.strip()!r} is not like 09:00-18:00")
        spans.append([match.group(1).zfill(5), match.group(2).zfill(5)])
    return spans


def hours_body(tz: str, days: Mapping[str, str], welcome: str, after: str) -> dict[str, Any]:
    """The ``PUT /sites/{id}/hours`` body; no zone and no day open means always open."""
    parsed = {day: parse_spans(day, days.get(day, "")) for day in DAYS}
    open_days = {day: spans for day, spans in parsed.items() if spans}
    hours = {"tz": tz.strip(), "days": open_days} if tz.strip() or open_days else None
    if hours is not None and not hours["tz"]:
        raise BadHours("a time zone is needed, e.g. Europe/Berlin or Asia/Shanghai")
    return {
        "hours": hours,
        "welcome_message": welcome.strip() or None,
        "after_hours_message": after.strip() or None,
    }


def field_list(typed: str) -> list[str]:
    """``"name, e-mail"`` -> ``["name", "email"]`` in the server's order; others refused."""
    wanted = {w.strip().lower().replace("e-mail", "email") for w in typed.split(",") if w.strip()}
    unknown = wanted - set(PRECHAT_FIELDS)
    if unknown:
        raise BadHours(f"pre-chat fields are name, email, department (not {', '.join(unknown)})")
    return [f for f in PRECHAT_FIELDS if f in wanted]


def preview(body: Mapping[str, Any], prechat: Mapping[str, Any]) -> list[str]:
    """What a visitor sees, in hours and after hours, as plain lines."""
    hours = body.get("hours")
    lines = ["In hours:"]
    lines.append(f"  [greeting] {body.get('welcome_message') or '(the widget default)'}")
    if prechat.get("enabled") and prechat.get("fields"):
        required = set(prechat.get("required") or ())
        lines.append("  Before the first message, a form:")
        for name in prechat.get("fields") or ():
            mark = " *" if name in required else ""
            lines.append(f"    {FIELD_LABELS.get(name, name)}{mark}: [__________]")
        lines.append("    [Start chat]")
    else:
        lines.append("  The message box at once (no pre-chat form).")
    if hours is None:
        lines += ["", "Always in hours (no schedule)."]
        return lines
    lines += ["", "After hours:"]
    lines.append(f"  {body.get('after_hours_message') or '(the widget default: we are away)'}")
    days = hours.get("days") or {}
    first = next((d for d in DAYS if d in days), None)
    if first is not None:
        lines.append(f"  We are back {first.capitalize()} {days[first][0][0]} ({hours.get('tz')})")
    lines.append("  Offline form: name, e-mail, message (reply by e-mail)")
    lines += ["", "Open:"]
    lines += [
        f"  {d.capitalize()}  {spans_text(days[d]) or 'closed'}"
        if d in days
        else f"  {d.capitalize()}  closed"
        for d in DAYS
    ]
    return lines
