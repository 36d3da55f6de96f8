"""A tenant's knowledge as the server gives it to its robot
(``GET /api/v1/bridges/me/knowledge``): articles and team canned replies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Doc:
    """One thing the robot may quote: an article or a canned reply."""

    id: str
    kind: str  # "article" | "canned"
    title: str
    body: str
    language: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Knowledge:
    docs: tuple[Doc, ...]
    version: str = ""


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    return value if isinstance(value, str) else ""


def parse_knowledge(body: Any) -> Knowledge:
    """Lenient: a malformed row is skipped, never the whole knowledge base."""
    docs: list[Doc] = []
    if not isinstance(body, dict):
        return Knowledge(())
    for kind, key in (("article", "articles"), ("canned", "canned")):
        rows = body.get(key)
        for row in rows if isinstance(rows, list) else []:
            if not isinstance(row, dict) or not _text(row, "id") or not _text(row, "body"):
                continue
            tags = row.get("tags")
            docs.append(
                Doc(
                    _text(row, "id"),
                    kind,
                    _text(row, "title"),
                    _text(row, "body"),
                    _text(row, "language"),
                    tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
                )
            )
    return Knowledge(tuple(docs), _text(body, "version"))


__all__ = ["Doc", "Knowledge", "parse_knowledge"]
