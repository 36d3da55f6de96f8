# ruff: noqa: RUF001 - Chinese text is written with Chinese punctuation
"""What the robot recognises and says in the visitor's language (en, zh-Hans, zh-Hant).

A visitor who asks for a person gets one at once: the phrases are matched as substrings
of the normalised message, so "can I talk to a person please" and "我要转人工" both count.
"""

from __future__ import annotations

import unicodedata

from bots.ai.text import is_cjk

# Characters only Traditional Chinese writes (their Simplified forms differ).
_HANT_ONLY = frozenset("們個這說請話轉對專員聯繫與問題麼嗎關謝務當還會點開時間")

HANDOFF_PHRASES: dict[str, tuple[str, ...]] = {
    "en": (
        "talk to a person",
        "talk to a human",
        "talk to someone",
        "talk to an agent",
        "speak to a person",
        "speak to a human",
        "speak to someone",
        "speak to an agent",
        "speak with a person",
        "talk with a person",
        "real person",
        "human agent",
        "live agent",
        "a human please",
        "customer service representative",
    ),
    "zh-Hans": ("转人工", "人工客服", "找人工", "人工服务", "真人", "找客服", "客服人员"),
    "zh-Hant": ("轉人工", "人工客服", "找人工", "人工服務", "真人", "找客服", "客服人員", "找專人"),
}

SAY: dict[str, dict[str, str]] = {
    "handing_off": {
        "en": "I'm connecting you with a person now; please stay in this chat.",
        "zh-Hans": "正在为您转接人工客服，请稍候。",
        "zh-Hant": "正在為您轉接真人客服，請稍候。",
    },
    "not_sure": {
        "en": "I'm not sure I understood. Could you say it in other words? "
        'Or write "talk to a person" and a colleague will take over.',
        "zh-Hans": "抱歉，我不太确定您的意思。能换个说法吗？或者输入“转人工”由同事为您服务。",
        "zh-Hant": "抱歉，我不太確定您的意思。能換個說法嗎？或者輸入「轉人工」由同事為您服務。",
    },
    "from_article": {
        "en": 'From our help article "{title}":',
        "zh-Hans": "摘自帮助文章《{title}》：",
        "zh-Hant": "摘自說明文章《{title}》：",
    },
}


def language_of(text: str) -> str:
    if not is_cjk(text):
        return "en"
    return "zh-Hant" if any(c in _HANT_ONLY for c in text) else "zh-Hans"


def asks_for_person(text: str) -> bool:
    normal = " ".join(unicodedata.normalize("NFKC", text).lower().split())
    return any(p in normal for phrases in HANDOFF_PHRASES.values() for p in phrases)


def say(what: str, language: str, **values: str) -> str:
    texts = SAY[what]
    return texts.get(language, texts["en"]).format(**values)


__all__ = ["HANDOFF_PHRASES", "asks_for_person", "language_of", "say"]
