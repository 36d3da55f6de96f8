"""Words for ranking: the same tokenizer for articles and questions, in any language.

Latin words are lower-cased, stop words dropped and plurals folded; runs of CJK
characters are cut by jieba (search mode) or, in ``bigram`` mode, into overlapping
character pairs. Measured on bench/ai_kb (bench/ai_retrieval.py, docs/ai.md).
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import unicodedata
from collections.abc import Callable
from typing import Literal

CjkMode = Literal["jieba", "bigram"]

_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+(?:'[a-z]+)?")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_EN_STOP_WORDS = """a an the and or but if of to in on at by for with from as is are was were
be been am do does did can could will would should shall may might must i me my we our you
your he she it its they them their this that these those what which who how when where why
there here have has had not no so than then too very just please want need get about into
any some all"""
# Particles and pronouns that carry no topic (jieba keeps them as words).
_ZH_STOP_WORDS = """的 了 吗 嗎 呢 吧 啊 呀 我 你 您 他 她 它 们 我们 你们 是 在
和 与 或 也 都 就 要 能
可以 怎么 如何 什么 请 么 麼 一 个 個"""
_EN_STOP = frozenset(_EN_STOP_WORDS.split())
_ZH_STOP = frozenset(_ZH_STOP_WORDS.split())

_jieba_lock = threading.Lock()
_jieba_cut: Callable[[str], list[str]] | None = None


def _jieba() -> Callable[[str], list[str]]:
    """jieba builds its dictionary on first use (about a second): once per process."""
    global _jieba_cut
    with _jieba_lock:
        if _jieba_cut is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba_cut = jieba.lcut_for_search
        return _jieba_cut


def warm() -> None:
    """Load jieba now (call it off the event loop): the first Chinese question would
    otherwise stall every conversation for the second it takes."""
    _jieba()


def _fold(word: str) -> str:
    """A light English stemmer: enough that "parcels" finds "parcel"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _cjk_words(run: str, mode: CjkMode) -> list[str]:
    if mode == "jieba":
        return [w for w in _jieba()(run) if w.strip() and w not in _ZH_STOP]
    chars = [c for c in run if c not in _ZH_STOP]
    if len(chars) < 2:
        return chars
    return [a + b for a, b in itertools.pairwise(chars)]


def tokens(text: str, mode: CjkMode = "jieba") -> list[str]:
    normal = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for run in _RUN.findall(normal):
        if _CJK.match(run):
            out.extend(_cjk_words(run, mode))
        elif run not in _EN_STOP:
            out.append(_fold(run))
    return out


def is_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


__all__ = ["CjkMode", "is_cjk", "tokens", "warm"]
