"""The labelled knowledge base of bench/ai_kb (40 articles and 40 questions in English
and in Simplified Chinese, 10 of each in Traditional Chinese, 5 canned replies), for
bench/ai_retrieval.py, bench/ai_first_reply.py and the robot's tests. Each ``.tsv`` line
is ``id<TAB>title<TAB>body`` or ``question<TAB>id``."""

from __future__ import annotations

from pathlib import Path

KB = Path(__file__).resolve().parent / "ai_kb"


def rows(name: str) -> list[list[str]]:
    lines = (KB / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip()]


def articles(language: str) -> list[dict[str, object]]:
    """``en``, ``zh`` (zh-Hans) or ``zh_hant`` (10 only), in the shape of
    GET /api/v1/bridges/me/knowledge."""
    lang = {"en": "en", "zh": "zh-Hans", "zh_hant": "zh-Hant"}[language]
    return [
        {"id": i, "title": t, "body": b, "language": lang, "tags": []}
        for i, t, b in rows(f"{language}.tsv")
    ]


def canned() -> list[dict[str, str]]:
    return [{"id": i, "title": t, "body": b} for i, t, b in rows("canned.tsv")]


def questions(language: str) -> list[tuple[str, str]]:
    return [(q, a) for q, a in rows(f"{language}_questions.tsv")]


def knowledge(version: str = "v1") -> dict[str, object]:
    return {"articles": articles("en") + articles("zh"), "canned": canned(), "version": version}
