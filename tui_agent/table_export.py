"""CSV export of what an admin view shows (a report or a log), as files on this machine.

Log rows hold text from outside (a login log's user name and user agent are whatever
the caller sent), and a spreadsheet runs a cell starting with ``=``, ``+``, ``-``, ``@``
(after blanks too: a tab becomes a space here, as on screen) as a formula: such cells
get a leading ``'`` (OWASP's advice for CSV injection). Numbers stay numbers. Escape
sequences and control characters are dropped as on screen (``tui_agent.untrusted.clean``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from tui_agent.untrusted import clean

FORMULA_START = ("=", "+", "-", "@")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_NAME_UNSAFE = re.compile(r"[^a-z0-9-]+")


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = clean(value)  # a CSV read with cat or less must not drive the terminal
    # Some spreadsheets skip leading blanks before a formula: look past them.
    if text.lstrip().startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def to_csv(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([cell(h) for h in headers])
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue()


def export_csv(
    directory: Path,
    view: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    now: datetime | None = None,
) -> Path:
    """Write ``<directory>/exports/<view>-<UTC time>.csv`` (mode 0600) and return its path."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    name = _NAME_UNSAFE.sub("-", view.lower()).strip("-") or "export"
    folder = directory / "exports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{name}-{stamp}.csv"
    path.touch(mode=0o600)
    path.write_text(to_csv(headers, rows), encoding="utf-8")
    return path
