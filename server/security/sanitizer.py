"""Message bodies are plain text; ``render_html`` makes their safe, clickable HTML form.

URLs are found in the raw text, every piece is escaped on its own (so a link never
swallows an escaped ``&gt;`` or quote), and one allow-list cleaner (nh3) runs over each
link we build as defence in depth. See docs/dependencies.md for why nh3, not bleach.

Every step is linear in the length of the body (issue #11: a quadratic trim of trailing
punctuation let one ``sync`` of hostile bodies stall the event loop for seconds).
Escaped text holds no markup, so the cleaner runs over the links only; the few things it
would change in text (NUL removed, CR as LF, NBSP as ``&nbsp;``, a leading BOM dropped)
are done here directly, and ``tests/unit/test_sanitizer.py`` checks that the output is
the same as cleaning it whole.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import nh3

_URL = re.compile(r"""(?:https?://|mailto:|www\.)[^\s<>"'`]+""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"
# Links made clickable per body; the rest stays text. Each costs a few microseconds, and
# a 4,000-character body can name 666 of them ("www.a " repeated).
MAX_LINKS = 100

_CLEANER = nh3.Cleaner(
    tags={"a", "br"},
    attributes={"a": {"href", "target"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="nofollow noopener",
)


def _strip_trailing(url: str) -> str:
    """Punctuation that ends a sentence is not part of the link (unless balanced: wiki URLs)."""
    opens, closes = url.count("("), url.count(")")
    end = len(url)
    while end and url[end - 1] in _TRAILING:
        if url[end - 1] == ")":
            if opens >= closes:
                break
            closes -= 1
        end -= 1
    return url[:end]


# URLs whose cleaned form is known: a host of plain labels (no port, no IDNA "xn--" label,
# no last label that reads as an IPv4 number) and a path of ordinary URL characters. The
# cleaner keeps such an href as it is, so their links are built here directly; any other
# URL goes through the cleaner. tests/unit/test_sanitizer.py holds both to one output.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", re.IGNORECASE)
_NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*", re.IGNORECASE)
_PLAIN_PATH = re.compile(r"[A-Za-z0-9._~!$&()*+,;=:@/?#%-]*")


def _plain(url: str) -> bool:
    lower = url[:8].lower()
    if lower.startswith("https://"):
        rest = url[8:]
    elif lower.startswith("http://"):
        rest = url[7:]
    elif lower.startswith("www."):
        rest = url
    else:
        return False
    cut = len(rest)
    for mark in "/?#":
        found = rest.find(mark, 0, cut)
        if found >= 0:
            cut = found
    labels = rest[:cut].split(".")
    return (
        all(_LABEL.fullmatch(label) and label[:4].lower() != "xn--" for label in labels)
        and not _NUMBER.fullmatch(labels[-1])
        and _PLAIN_PATH.fullmatch(rest, cut) is not None
    )


_REL = ' target="_blank" rel="nofollow noopener">'


def _href(url: str) -> str:
    return html.escape("https://" + url if url[:4].lower() == "www." else url)


def _links(urls: list[str]) -> list[str]:
    """The ``<a>`` of each URL. Links that are not plain go to the cleaner as opening tags
    only, all in one call (a call per link cost more than the rest of the rendering); the
    link text is escaped text, which needs nothing but the cleaner's NUL removal."""
    plain = [_plain(url) for url in urls]
    odd = [url for url, ok in zip(urls, plain, strict=True) if not ok]
    cleaned: Iterator[str] = iter(())
    if odd:
        shells = "".join(f'<a href="{_href(url)}" target="_blank"></a>' for url in odd)
        # An escaped URL holds no "<", so "</a>" only ever ends one of the shells.
        cleaned = iter(_CLEANER.clean(shells).split("</a>"))
    links = []
    for url, ok in zip(urls, plain, strict=True):
        text = html.escape(url, quote=False)
        if ok:
            links.append(f'<a href="{_href(url)}"{_REL}{text}</a>')
        else:
            links.append(f"{next(cleaned)}{text.replace(chr(0), '')}</a>")
    return links


def _text(segment: str) -> str:
    """Text between links, as the cleaner would leave it once escaped."""
    escaped = html.escape(segment, quote=False).replace("\n", "<br>")
    if "\r" in escaped:
        escaped = escaped.replace("\r", "\n")
    if "\x00" in escaped:
        escaped = escaped.replace("\x00", "")
    if "\xa0" in escaped:
        escaped = escaped.replace("\xa0", "&nbsp;")
    return escaped


def render_html(body: str) -> str:
    texts: list[str] = []
    urls: list[str] = []
    position = 0
    for match in _URL.finditer(body):
        if len(urls) == MAX_LINKS:
            break
        url = _strip_trailing(match.group())
        if not url or url.lower() in ("mailto:", "www."):
            continue
        texts.append(_text(body[position : match.start()]))
        urls.append(url)
        position = match.start() + len(url)
    texts.append(_text(body[position:]))
    parts = [texts[0]]
    for link, text in zip(_links(urls) if urls else [], texts[1:], strict=True):
        parts.append(link)
        parts.append(text)
    rendered = "".join(parts)
    # An HTML parser skips one byte-order mark at the start of its input.
    return rendered[1:] if body.startswith("\ufeff") else rendered
