"""Each message's html: escaped text, clickable links, nothing else."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from server.security.sanitizer import render_html


def test_markup_in_a_body_is_shown_as_text() -> None:
    assert render_html("<b>hi</b> & <script>alert(1)</script>") == (
        "&lt;b&gt;hi&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"
    )


def test_urls_become_safe_links() -> None:
    out = render_html("see https://example.com/a?b=1&c=2.")
    assert out == (
        'see <a href="https://example.com/a?b=1&amp;c=2" target="_blank" '
        'rel="nofollow noopener">https://example.com/a?b=1&amp;c=2</a>.'
    )


def test_a_link_next_to_angle_brackets_or_quotes_keeps_its_text() -> None:
    out = render_html('link: <https://example.com/x> and "https://example.org/y"')
    assert 'href="https://example.com/x"' in out
    assert 'href="https://example.org/y"' in out
    assert out.endswith(
        '&gt; and "<a href="https://example.org/y" target="_blank" '
        'rel="nofollow noopener">https://example.org/y</a>"'
    )


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))


@pytest.mark.parametrize(
    "body",
    [
        "javascript:alert(1)",
        '<a href="javascript:alert(1)">x</a>',
        "<img src=x onerror=alert(1)>",
        'https://x.example/"onmouseover=alert(1)',
        "https://x.example/'><img src=x onerror=alert(1)>",
        "<svg/onload=alert(1)>",
        "data:text/html;base64,PHNjcmlwdD4=",
        "<iframe src=https://evil.example>",
    ],
)
def test_hostile_bodies_never_yield_active_html(body: str) -> None:
    parser = _Elements()
    parser.feed(render_html(body))
    for tag, attrs in parser.elements:
        assert tag in ("a", "br")
        assert set(attrs) <= {"href", "target", "rel"}
        href = attrs.get("href") or ""
        if tag == "a":
            assert href.startswith(("http://", "https://", "mailto:"))
            assert '"' not in href and "<" not in href


def test_newlines_and_www_links() -> None:
    assert render_html("a\nwww.example.com") == (
        'a<br><a href="https://www.example.com" target="_blank" '
        'rel="nofollow noopener">www.example.com</a>'
    )


def test_balanced_parentheses_stay_in_the_link() -> None:
    out = render_html("(https://en.wikipedia.org/wiki/Foo_(bar))")
    assert 'href="https://en.wikipedia.org/wiki/Foo_(bar)"' in out
    assert out.endswith("</a>)")
