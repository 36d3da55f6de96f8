"""Ranking a tenant's articles and canned replies for a question (BM25 by ``bm25s``).

One :class:`Index` holds one tenant's knowledge and nothing else: a robot is one bridge
of one tenant, so no question can reach another tenant's text (tenant-scoped by
construction). Confidence is how much of the question's informative words (weighted by
IDF) the best document contains: 0 when it shares none, 1 when it has them all; BM25's raw
score has no scale, this does, so one threshold works for every knowledge base.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import bm25s
import numpy as np

from bots.ai.knowledge import Doc
from bots.ai.text import CjkMode, tokens

TITLE_WEIGHT = 2  # a title word counts as often as this in the body


@dataclass(frozen=True, slots=True)
class Hit:
    doc: Doc
    score: float
    confidence: float


class Index:
    def __init__(self, docs: tuple[Doc, ...] | list[Doc], mode: CjkMode = "jieba") -> None:
        self.docs = tuple(docs)
        self.mode = mode
        self._terms: list[set[str]] = []
        corpus: list[list[str]] = []
        df: Counter[str] = Counter()
        for doc in self.docs:
            words = tokens(doc.title, mode) * TITLE_WEIGHT + tokens(doc.body, mode)
            corpus.append(words or [""])
            self._terms.append(set(words))
            df.update(set(words))
        n = max(1, len(self.docs))
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._unknown_idf = math.log(1 + (n + 0.5) / 0.5)  # a word no document has
        self._bm25: bm25s.BM25 | None = None
        if self.docs:
            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)

    def search(self, question: str, k: int = 3) -> list[Hit]:
        words = tokens(question, self.mode)
        if not words or self._bm25 is None:
            return []
        scores = np.asarray(self._bm25.get_scores(words), dtype=float)
        order = np.argsort(-scores)[:k]
        wanted = set(words)
        mass = sum(self._idf.get(w, self._unknown_idf) for w in wanted)
        hits = []
        for i in order:
            if scores[i] <= 0:
                break
            found = sum(self._idf[w] for w in wanted & self._terms[i])
            hits.append(Hit(self.docs[i], float(scores[i]), found / mass if mass else 0.0))
        return hits


__all__ = ["Hit", "Index"]
