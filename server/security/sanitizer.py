"""Message bodies are plain text; ``render_html`` makes their safe, clickable HTML form.

Escape first, then turn URLs into links, then pass the result through one allow-list
cleaner (nh3) as defence in depth. See docs/dependencies.md for why nh3, not bleach.
"""

from __future__ import annotations

import html
import re

import nh3

_URL = re.compile(r"""(?P<url>(?:https?://|mailto:)[^\s<>"'`]+|www\.[^\s<>"'`]+)""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""

_CLEANER = nh3.Cleaner(
    tags={"a", "br"},
    attributes={"a": {"href", "target"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="nofollow noopener",
)


def _link(match: re.Match[str]) -> str:
    text = match.group("url")
    tail = ""
    while text and text[-1] in _TRAILING:
        # a closing bracket that opened inside the URL belongs to it (wikipedia links)
        if text[-1] == ")" and text.count("(") >= text.count(")"):
            break
        tail = text[-1] + tail
        text = text[:-1]
    href = text if not text.lower().startswith("www.") else "https://" + text
    return f'<a href="{href}" target="_blank">{text}</a>{tail}'


def render_html(body: str) -> str:
    escaped = html.escape(body, quote=True)
    linked = _URL.sub(_link, escaped)
    return _CLEANER.clean(linked.replace("\n", "<br>"))
