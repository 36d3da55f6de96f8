"""Times: UTC to the millisecond, stored and shown alike (docs/protocol.md, "Times").

Every time the API shows is ``YYYY-MM-DDTHH:MM:SS.mmmZ``: the same resolution and width
as a message's ``ts``, so clients may compare and sort the strings as they are.
"""

from __future__ import annotations

import datetime as dt
import time


def utcnow() -> dt.datetime:
    """Now as naive UTC (the stored columns' form), cut to the millisecond."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso_time(value: dt.datetime | None) -> str | None:
    """A stored (naive UTC) or aware time in the API's one format; None stays None."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def iso_ms(epoch_ms: int) -> str:
    """Unix milliseconds (a message's ``created_ms``) in the API's one format."""
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
