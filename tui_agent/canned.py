"""Canned replies: typed as ``/shortcut`` in the composer, completed fuzzily.

The server has no canned-reply API yet, so they come from ``canned.json`` in the config
dir (see docs/console.md)::

    {"replies": [{"shortcut": "hello", "body": "Hi {visitor}, how can I help?"}]}

A plain object (``{"hello": "Hi {visitor}..."}``) works too. ``{visitor}`` and
``{agent}`` are replaced by the visitor's and the agent's names. Without a file the
console offers a few built-in examples.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tui_agent.config import CANNED_FILE, config_dir

BUILTIN_REPLIES = (
    ("hello", "Hi {visitor}, thanks for reaching out! How can I help?"),
    ("moment", "One moment please, I'm looking into it."),
    ("thanks", "Thank you for your patience!"),
    ("bye", "Is there anything else I can help you with? Have a great day!"),
)


@dataclass(frozen=True)
class CannedReply:
    shortcut: str
    body: str

    def render(self, visitor: str, agent: str) -> str:
        return self.body.replace("{visitor}", visitor or "there").replace("{agent}", agent)


@dataclass(frozen=True)
class CannedSet:
    replies: tuple[CannedReply, ...]
    source: str  # the file they came from, or "built-in"
    problem: str = ""  # why the file was not used, if it exists but is broken

    def find(self, shortcut: str) -> CannedReply | None:
        for reply in self.replies:
            if reply.shortcut == shortcut:
                return reply
        return None

    def complete(self, query: str, limit: int = 8) -> list[CannedReply]:
        """Replies whose shortcut (or, weaker, body) matches ``query``, best first."""
        scored: list[tuple[float, str, CannedReply]] = []
        for reply in self.replies:
            in_body = 30.0 if query and query.lower() in reply.body.lower() else 0.0
            score = max(fuzzy_score(query, reply.shortcut), in_body)
            if score > 0:
                scored.append((-score, reply.shortcut, reply))
        scored.sort(key=lambda item: (item[0], item[1]))
        return [reply for _, _, reply in scored[:limit]]


def fuzzy_score(query: str, text: str) -> float:
    """0 for no match; higher for exact, prefix, word-start, substring, then subsequence."""
    q, t = query.lower(), text.lower()
    if not q:
        return 1.0
    if q == t:
        return 100.0
    if t.startswith(q):
        return 80.0 - min(len(t) - len(q), 20) / 2
    if f" {q}" in f" {t}":
        return 60.0
    if q in t:
        return 50.0
    pos, gaps = 0, 0
    for ch in q:
        found = t.find(ch, pos)
        if found < 0:
            return 0.0
        gaps += found - pos
        pos = found + 1
    return max(1.0, 40.0 - gaps)


def _parse(data: object) -> Iterable[CannedReply]:
    if isinstance(data, dict) and isinstance(data.get("replies"), list):
        for item in data["replies"]:
            if isinstance(item, dict):
                shortcut, body = item.get("shortcut"), item.get("body")
                if isinstance(shortcut, str) and isinstance(body, str) and shortcut and body:
                    yield CannedReply(shortcut.lstrip("/"), body)
    elif isinstance(data, dict):
        for shortcut, body in data.items():
            if isinstance(body, str) and shortcut and body:
                yield CannedReply(str(shortcut).lstrip("/"), body)


def load_canned(directory: Path | None = None) -> CannedSet:
    path = (directory or config_dir()) / CANNED_FILE
    builtin = tuple(CannedReply(s, b) for s, b in BUILTIN_REPLIES)
    if not path.exists():
        return CannedSet(builtin, "built-in")
    try:
        replies = tuple(_parse(json.loads(path.read_text(encoding="utf-8"))))
    except (OSError, ValueError) as exc:
        return CannedSet(builtin, "built-in", f"{path}: {exc}")
    if not replies:
        return CannedSet(builtin, "built-in", f"{path}: no replies in it")
    return CannedSet(replies, str(path))
