"""Message bodies are plain text; ``render_html`` makes their safe, clickable HTML form.

URLs are found in the raw text, every piece is escaped on its own (so a link never
swallows an escaped ``&gt;`` or quote), and one allow-list cleaner (nh3) runs over the
result as defence in depth. See docs/dependencies.md for why nh3, not bleach.
"""

from __future__ import annotations

import html
import re

import nh3

_URL = re.compile(r"""(?:https?://|mailto:|www\.)[^\s<>"'`]+""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"

_CLEANER = nh3.Cleaner(
    tags={"a", "br"},
    attributes={"a": {"href", "target"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="nofollow noopener",
)


def _strip_trailing(url: str) -> str:
    """Punctuation that ends a sentence is not part of the link (unless balanced: wiki URLs)."""
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _link(url: str) -> str:
    href = "https://" + url if url.lower().startswith("www.") else url
    return (
        f'<a href="{html.escape(href, quote=True)}" target="_blank">'
        f"{html.escape(url, quote=False)}</a>"
    )


def render_html(body: str) -> str:
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(body):
        url = _strip_trailing(match.group())
        if not url or url.lower() in ("mailto:", "www."):
            continue
        parts.append(html.escape(body[position : match.start()], quote=False))
        parts.append(_link(url))
        position = match.start() + len(url)
    parts.append(html.escape(body[position:], quote=False))
    return _CLEANER.clean("".join(parts).replace("\n", "<br>"))
