"""Attachments in the console (protocol "Attachments (v1.1)"): reading them off the wire,
describing them safely, choosing where a saved one goes, and checking a file to send.

Names come from visitors: they may carry markup, escape codes, path separators or a
leading dot. They are shown only through :func:`~tui_agent.untrusted.safe_text` and
become a file name only through :func:`safe_file_name`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.text import Text

from steadywire.errors import BadFrame
from steadywire.server_frames import Attachment
from tui_agent.untrusted import clean, safe_text

DOWNLOADS_ENV = "STEADYDESK_DOWNLOADS_DIR"
MAX_NAME_CHARS = 120
ATTACHMENTS_SHOWN = 10  # a message carries at most 10 (the send limit)

UPLOAD_ERRORS = {
    "too_large": "The file is larger than the server accepts.",
    "type_not_allowed": "This type of file is not allowed (the server checks its content).",
    "forbidden": "You may not send files into this conversation.",
    "conversation_closed": "This conversation is closed.",
}


class FileRefused(Exception):
    """A path that cannot be sent (the message says why, for the agent)."""


def attachments_from_wire(raw: object) -> tuple[Attachment, ...]:
    """The ``attachments`` of a message frame; malformed entries are left out."""
    if not isinstance(raw, list):
        return ()
    out: list[Attachment] = []
    for item in raw[:ATTACHMENTS_SHOWN]:
        if isinstance(item, Mapping):
            try:
                out.append(Attachment.from_wire(item))
            except BadFrame:
                continue
    return tuple(out)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def describe(att: Attachment) -> Text:
    """``📎 name · size · type``, safe to show (never markup, no escape codes)."""
    text = Text("📎 ", style="bold")
    text.append_text(safe_text(att.name or "file", "underline", width=80))
    text.append_text(safe_text(f" · {human_size(att.size)} · {att.type or 'unknown type'}", "dim"))
    return text


# Letters, digits, ``_``, ``-``, ``.``, ``+``, ``,``, parentheses: nothing a shell or a
# file manager reads specially; every other run becomes one ``_``.
_UNSAFE_NAME = re.compile(r"[^\w.\-+,()]+")


def safe_file_name(name: str) -> str:
    """A visitor's file name as one harmless file name: no directories, no leading dot,
    no control or shell-special characters, at most :data:`MAX_NAME_CHARS`."""
    flat = clean(name).replace("\n", " ")
    flat = _UNSAFE_NAME.sub("_", flat).strip("._-")
    if not flat:
        return "attachment"
    if len(flat) > MAX_NAME_CHARS:
        _, dot, ext = flat.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        flat = flat[: MAX_NAME_CHARS - len(keep) - 1].rstrip(".") + ("." + keep if keep else "")
    return flat


def downloads_dir() -> Path:
    """Where saved attachments go: ``$STEADYDESK_DOWNLOADS_DIR``, else ``~/Downloads``."""
    configured = os.environ.get(DOWNLOADS_ENV)
    return Path(configured).expanduser() if configured else Path.home() / "Downloads"


def free_path(directory: Path, name: str) -> Path:
    """``directory/name``, or ``name (2)``… when taken: a save never overwrites."""
    base = safe_file_name(name)
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem:
        stem, ext = base, ""
    candidate = directory / base
    n = 2
    while candidate.exists():
        candidate = directory / (f"{stem} ({n})" + (f".{ext}" if ext else ""))
        n += 1
    return candidate


def file_to_send(typed: str) -> Path:
    """The file named by the agent (``~`` expanded), or :class:`FileRefused`."""
    text = typed.strip()
    if not text:
        raise FileRefused("Type the path of a file.")
    path = Path(text).expanduser()
    if not path.exists():
        raise FileRefused(f"No such file: {text}")
    if not path.is_file():
        raise FileRefused(f"Not a file: {text}")
    if not os.access(path, os.R_OK):
        raise FileRefused(f"Cannot read: {text}")
    if path.stat().st_size == 0:
        raise FileRefused(f"The file is empty: {text}")
    return path


def upload_error(code: str, message: str) -> str:
    return UPLOAD_ERRORS.get(code) or message or code or "The upload failed."


def to_wire_list(atts: tuple[Attachment, ...]) -> list[dict[str, Any]]:
    return [a.to_wire() for a in atts]
