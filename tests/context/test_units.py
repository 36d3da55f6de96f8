"""The plain parts, without a server: placeholder expansion, query words, snippets,
page-frame validation, user-agent parsing."""

from __future__ import annotations

import orjson
import pytest

from server.chat.pages import check_page_view
from server.chat.search import snippet
from server.chat.visitors import parse_user_agent
from server.errors import Forbidden
from server.kernel.actors import Actor
from server.kernel.enums import SenderType
from server.storage.fulltext import MAX_TERMS, search_terms
from steadywire import BadFrame, Page, parse_client_frame
from steadywire.placeholders import expand

VISITOR = Actor(SenderType.VISITOR, "v1", "t1")
AGENT = Actor(SenderType.AGENT, "a1", "t1", role="agent")


def test_expansion_is_one_pass_and_leaves_unknown_placeholders() -> None:
    values = {"visitor.name": "{agent.name}", "agent.name": "Bo"}
    assert expand("{visitor.name}/{agent.name}/{x.y}/{0}/{visitor.__class__}", values) == (
        "{agent.name}/Bo/{x.y}/{0}/{visitor.__class__}"
    )


def test_query_words_are_plain_words() -> None:
    assert search_terms('"Refund" OR +order* -x NEAR(a b)') == [
        "refund", "or", "order", "x", "near", "a", "b"]
    assert search_terms("a " * 20) == ["a"]
    assert len(search_terms(" ".join(f"w{i}" for i in range(20)))) == MAX_TERMS
    assert search_terms("订单 退款") == ["订单", "退款"]


def test_snippet_is_around_the_first_word() -> None:
    body = "x" * 300 + " the refund is here " + "y" * 300
    text = snippet(body, ["refund"])
    assert "refund" in text and text.startswith("…") and text.endswith("…")
    assert snippet("short body", ["absent"]) == "short body"


def test_page_frames_are_checked() -> None:
    """steadywire reads the frame (URLs, title); the server checks whose page it is."""
    view = check_page_view(VISITOR, _page({"url": "https://a.example/x", "title": "T\x00itle"}))
    assert (view.url, view.title, view.referrer) == ("https://a.example/x", "Title", "")
    with pytest.raises(Forbidden):
        check_page_view(AGENT, _page({"url": "https://a.example/"}))
    with pytest.raises(Forbidden):
        check_page_view(VISITOR, _page({"url": "https://a.example/", "visitor": "v2"}))
    check_page_view(VISITOR, _page({"url": "https://a.example/", "visitor": "v1"}))
    for bad in ("javascript:alert(1)", "https://", "https://a.example/\n", "//a.example/", ""):
        with pytest.raises(BadFrame):
            _page({"url": bad})
    with pytest.raises(BadFrame):
        _page({"url": "https://a.example/", "referrer": "ftp://a.example/"})
    assert _page({"url": "https://a.example/", "referrer": ""}).referrer is None


def _page(fields: dict[str, object]) -> Page:
    frame = parse_client_frame(orjson.dumps({"type": "page", **fields}))
    assert isinstance(frame, Page)
    return frame


def test_user_agents_are_named() -> None:
    iphone = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
    assert parse_user_agent(iphone) == {"browser": "Mobile Safari 17", "os": "iOS 17",
                                        "device": "iPhone"}
    assert parse_user_agent("") == {"browser": "", "os": "", "device": ""}
    assert parse_user_agent("curl/8.0")["os"] == ""
