"""Text snapshots of screens: what a terminal of a fixed size shows, as plain text.

Plain text (not pytest-textual-snapshot's SVG) because it diffs readably in review and
because pytest-textual-snapshot pins syrupy 4.8, which needs pytest < 9. Volatile parts
are masked: clock times (``hh:mm``) and dates, and whatever a test adds (``masks``: site
keys, ids, user agents). Inputs stop blinking before the capture.

Update after a reviewed change with ``STEADY_UPDATE_SNAPSHOTS=1 pytest tests/tui``.
"""

from __future__ import annotations

import difflib
import io
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from textual.app import App
from textual.widgets import DataTable, Input

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
UPDATE_ENV = "STEADY_UPDATE_SNAPSHOTS"
MASKS = (
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "yyyy-mm-dd"),
    (re.compile(r"\b\d{2}:\d{2}\b"), "hh:mm"),
)


Mask = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]


def same_length(label: str) -> Callable[[re.Match[str]], str]:
    """``label`` padded or cut to the masked text's length: a table's columns stay put,
    so what is cut off at the screen's edge is cut off the same way every run."""
    return lambda found: label.ljust(len(found.group()), "_")[: len(found.group())]


def masked(pattern: str, label: str) -> Mask:
    return re.compile(pattern), same_length(label)


def exactly(value: str, label: str) -> Mask:
    """A mask for one known random value (a site key, an id)."""
    return re.compile(re.escape(value)), same_length(label)


# A date cut off at the screen's edge ("2026-12-0") too.
ANY_DATE = masked(r"\b\d{4}-\d{2}(?:-\d{1,2})?\b|\b\d{4}-\d{1,2}$", "yyyy-mm-dd")


def screen_text(app: App[Any], masks: Sequence[Mask] = ()) -> str:
    """The whole screen (with any dialogs over it) as text, one line per terminal row."""
    for box in app.screen.query(Input):
        box.cursor_blink = False
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    # What App.export_screenshot renders, exported as text instead of SVG.
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    text = console.export_text()
    for pattern, mask in (*masks, *MASKS):
        text = pattern.sub(mask, text)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def assert_snapshot(app: App[Any], name: str, masks: Sequence[Mask] = ()) -> None:
    actual = screen_text(app, masks)
    path = SNAPSHOT_DIR / f"{name}.txt"
    if os.environ.get(UPDATE_ENV) == "1" or not path.exists():
        SNAPSHOT_DIR.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        if os.environ.get(UPDATE_ENV) != "1":
            raise AssertionError(f"new snapshot {path.name} written: review and commit it")
        return
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                f"{path.name} (expected)",
                f"{path.name} (actual)",
            )
        )
        raise AssertionError(
            f"screen differs from {path.name} ({UPDATE_ENV}=1 rewrites it):\n{diff}"
        )


def columns_sized(table: DataTable[Any]) -> bool:
    """Each of the table's columns is as wide as its widest cell. A table sizes its columns
    when it is next idle after rows change, which under load can come after a pause: a
    snapshot taken before shows every column as wide as its label."""
    for key, column in table.columns.items():
        widest = max((cell_len(str(cell)) for cell in table.get_column(key)), default=0)
        if column.content_width < widest:
            return False
    return True
