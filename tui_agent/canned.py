"""Canned replies: typed as ``/shortcut`` in the composer, completed fuzzily.

They come from the server (``GET /api/v1/canned-replies``: the tenant's and the agent's
own personal ones, see docs/agent-tools.md). Only when the server cannot be asked (not
reached, or an older server without the route) does the console fall back to
``canned.json`` in the config dir (see docs/console.md)::

    {"replies": [{"shortcut": "hello", "body": "Hi {visitor.name}, how can I help?"}]}

Placeholders are the server's (``{visitor.name}``, ``{visitor.email}``, ``{agent.name}``,
``{conversation.id}``), expanded by the same code (:mod:`steadywire.placeholders`); a
local file's older ``{visitor}`` / ``{agent}`` are read as ``{visitor.name}`` /
``{agent.name}``. Without a file the console offers a few built-in examples.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steadywire.placeholders import expand
from tui_agent.config import CANNED_FILE, config_dir

SERVER = "server"
TENANT, PERSONAL, LOCAL = "tenant", "personal", "local"
LEGACY_PLACEHOLDERS = (("{visitor}", "{visitor.name}"), ("{agent}", "{agent.name}"))

BUILTIN_REPLIES = (
    ("hello", "Hi {visitor.name}, thanks for reaching out! How can I help?"),
    ("moment", "One moment please, I'm looking into it."),
    ("thanks", "Thank you for your patience!"),
    ("bye", "Is there anything else I can help you with? Have a great day!"),
)


@dataclass(frozen=True)
class CannedReply:
    shortcut: str
    body: str
    scope: str = LOCAL  # "tenant" or "personal" (from the server), or "local"
    id: str = ""  # the server's id; "" for local ones

    @property
    def key(self) -> str:
        """Unique in a set: one shortcut may exist tenant-wide and as a personal reply."""
        return f"{self.scope}:{self.shortcut}"

    @property
    def editable(self) -> bool:
        return self.scope == PERSONAL and bool(self.id)

    def render(self, values: Mapping[str, str]) -> str:
        return expand(self.body, values)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> CannedReply | None:
        shortcut, body = data.get("shortcut"), data.get("body")
        if not (isinstance(shortcut, str) and isinstance(body, str) and shortcut and body):
            return None
        scope = PERSONAL if data.get("scope") == PERSONAL else TENANT
        return cls(shortcut, body, scope, str(data.get("id") or ""))


def placeholder_values(
    visitor_name: str, visitor_email: str, agent_name: str, conv: str
) -> dict[str, str]:
    """What the server's ``render`` fills in, as this console knows it."""
    return {
        "visitor.name": visitor_name,
        "visitor.email": visitor_email,
        "agent.name": agent_name,
        "conversation.id": conv,
    }


@dataclass(frozen=True)
class CannedSet:
    replies: tuple[CannedReply, ...]
    source: str  # "server", the file they came from, or "built-in"
    problem: str = ""  # why the server or the file was not used

    @property
    def from_server(self) -> bool:
        return self.source == SERVER

    def find(self, shortcut: str) -> CannedReply | None:
        """By shortcut (one's own personal reply before the tenant's) or by key."""
        found = [r for r in self.replies if shortcut in (r.shortcut, r.key)]
        found.sort(key=lambda r: r.scope != PERSONAL)
        return found[0] if found else None

    def personal(self) -> list[CannedReply]:
        return sorted((r for r in self.replies if r.editable), key=lambda r: r.shortcut)

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
                    yield CannedReply(shortcut.lstrip("/"), _modern(body))
    elif isinstance(data, dict):
        for shortcut, body in data.items():
            if isinstance(body, str) and shortcut and body:
                yield CannedReply(str(shortcut).lstrip("/"), _modern(body))


def _modern(body: str) -> str:
    for old, new in LEGACY_PLACEHOLDERS:
        body = body.replace(old, new)
    return body


def server_canned(rows: Iterable[Mapping[str, Any]]) -> CannedSet:
    replies = (CannedReply.from_wire(row) for row in rows)
    return CannedSet(tuple(r for r in replies if r is not None), SERVER)


def offline(local: CannedSet, why: str) -> CannedSet:
    """The local set, saying why the server's replies are not used."""
    return CannedSet(local.replies, local.source, f"server canned replies unavailable ({why})")


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
