"""Small text helpers shared by widgets: times and waits (untrusted text: ``untrusted``)."""

from __future__ import annotations

from datetime import datetime

from tui_agent.config import parse_time


def waited(since: str, now: datetime) -> str:
    """How long ago ``since`` was, coarsely: ``<1m``, ``4m``, ``2h05``, ``3d``."""
    start = parse_time(since)
    if start is None:
        return ""
    secs = max(0, int((now - start).total_seconds()))
    if secs < 60:
        return "<1m"
    if secs < 3600:
        return f"{secs // 60}m"
    if secs < 86400:
        return f"{secs // 3600}h{secs % 3600 // 60:02d}"
    return f"{secs // 86400}d"


def clock(ts: str) -> str:
    """``HH:MM`` in local time, or an empty string for a missing or bad time."""
    value = parse_time(ts)
    return value.astimezone().strftime("%H:%M") if value else ""
