"""The visitor widget: one static script, served by the server itself (no CDN), and the
demo page that embeds it. See docs/widget.md.

``WidgetScript`` reads ``static/widget.js`` once per process and keeps its gzip form and
ETag, so serving it costs nothing per request. The pages are small templates filled with
escaped values.
"""

from __future__ import annotations

import gzip
import hashlib
import html
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

STATIC_DIR = Path(__file__).resolve().parent / "static"
SCRIPT_CONTENT_TYPE = "application/javascript; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True)
class WidgetScript:
    body: bytes
    gzipped: bytes
    etag: str  # a strong validator: quoted hex digest of the bytes served

    @classmethod
    def load(cls, path: Path = STATIC_DIR / "widget.js") -> WidgetScript:
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:32]
        # mtime=0: the same bytes (and so the same ETag) on every node of a cluster.
        return cls(body, gzip.compress(body, compresslevel=9, mtime=0), f'"{digest}"')


@cache
def widget_script() -> WidgetScript:
    return WidgetScript.load()


@cache
def _template(name: str) -> Template:
    return Template((STATIC_DIR / name).read_text(encoding="utf-8"))


def demo_page(site_key: str, nonce: str) -> str:
    """A sample product page with the widget, for the tenant's "Demo site"."""
    return _template("demo.html").substitute(
        site_key=html.escape(site_key, quote=True), nonce=html.escape(nonce, quote=True)
    )


def setup_page(nonce: str) -> str:
    """What ``/`` shows before ``steadydesk demo`` has created the demo site."""
    return _template("setup.html").substitute(nonce=html.escape(nonce, quote=True))


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison for If-None-Match (a list, ``*``, or ``W/`` validators)."""
    if not if_none_match:
        return False
    candidates = [c.strip() for c in if_none_match.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == etag for c in candidates)
