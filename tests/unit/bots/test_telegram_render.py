"""What the Telegram bridge writes (bots/telegram/render.py) and how it reads commands:
visitor text escaped for HTML parse mode in one place, Telegram's limits kept, commands
addressed to this bot or another."""

from __future__ import annotations

import re

import pytest

from bots.core.commands import Intent, Request
from bots.core.config import ConfigError, load_config
from bots.core.model import Author, Conversation, Item, ItemKind, Visitor
from bots.telegram import render
from bots.telegram.adapter import TelegramPlatform
from tests.fakes.telegram import parse_html


def item(kind: ItemKind, author: Author, body: str) -> Item:
    return Item("c1", 1, kind, body, author)


def test_visitor_text_is_shown_never_interpreted() -> None:
    hostile = "<b>x</b> & <a href='tg://user?id=1'>@admin</a> &amp; <tg-spoiler>s</tg-spoiler>"
    plain, entities = parse_html(
        render.item(item(ItemKind.MESSAGE, Author("visitor", "v"), hostile))
    )
    assert (plain, entities) == (hostile, [])
    agent = Author("agent", "a1", "Bo <i>&</i>")
    plain, entities = parse_html(render.item(item(ItemKind.MESSAGE, agent, "hi <u>")))
    assert plain == "Bo <i>&</i>: hi <u>"
    assert entities == [{"type": "bold", "offset": 0, "length": len("Bo <i>&</i>")}]
    plain, _ = parse_html(render.item(item(ItemKind.NOTE, agent, "check")))
    assert plain == "📝 note: check\n— Bo <i>&</i>"


def test_long_bodies_are_cut_within_telegrams_limit() -> None:
    body = "😀" * 5000  # two UTF-16 units each
    plain, _ = parse_html(render.item(item(ItemKind.MESSAGE, Author("agent", "a", "Bo"), body)))
    assert len(plain.encode("utf-16-le")) // 2 <= render.TEXT_MAX_UTF16
    assert plain.startswith("Bo: 😀") and plain.endswith(render.CUT_MARK)


def test_topic_names_follow_the_visitor() -> None:
    def name(visitor: str) -> str:
        return render.topic_name(Conversation("01abcdef123456", Visitor(visitor)))

    assert name("Ada\nLovelace") == "Ada Lovelace"
    assert name("") == "Visitor 123456"
    assert len(name("x" * 300)) == render.TOPIC_NAME_MAX


def platform() -> TelegramPlatform:
    telegram = TelegramPlatform(
        token="1:x", api_url="http://127.0.0.1:9/bot", chat="-100", chat_map={}
    )
    telegram.username = "SteadyBot"
    return telegram


def test_commands_for_this_bot_or_another() -> None:
    telegram = platform()
    assert telegram.read_request("/claim@steadybot") == Request(Intent.CLAIM)
    assert telegram.read_request("/transfer@SteadyBot Billing") == Request(
        Intent.TRANSFER, "Billing"
    )
    assert telegram.for_another_bot("/claim@OtherBot")
    assert not telegram.for_another_bot("/claim@SteadyBot")
    assert not telegram.for_another_bot("/claim")
    assert telegram.read_request("/help") is None
    assert "@SteadyBot" in telegram.link_help


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "missing setting: TELEGRAM_CHAT"),
        ({"TELEGRAM_CHAT": "@support"}, "TELEGRAM_CHAT: Telegram chat ids are numbers"),
        (
            {"TELEGRAM_CHAT": "-100", "TELEGRAM_CHAT_MAP": '{"d1": "x"}'},
            "TELEGRAM_CHAT_MAP[d1]: Telegram chat ids are numbers",
        ),
        (
            {"TELEGRAM_CHAT": "-100", "TELEGRAM_WEBHOOK_URL": "https://b.test/telegram/webhook"},
            "missing setting: TELEGRAM_WEBHOOK_SECRET",
        ),
        (
            {
                "TELEGRAM_CHAT": "-100",
                "TELEGRAM_WEBHOOK_URL": "https://b.test/telegram/webhook",
                "TELEGRAM_WEBHOOK_SECRET": "not allowed!",
            },
            "TELEGRAM_WEBHOOK_SECRET must be",
        ),
        (
            {
                "TELEGRAM_CHAT": "-100",
                "TELEGRAM_WEBHOOK_URL": "http://b.test/telegram/webhook",
                "TELEGRAM_WEBHOOK_SECRET": "s3cret",
            },
            "must be an https:// URL",
        ),
    ],
)
def test_configuration_problems_are_named(env: dict[str, str], problem: str) -> None:
    config = load_config("telegram", environ={"TELEGRAM_BOT_TOKEN": "1:x", **env})
    with pytest.raises(ConfigError, match=re.escape(problem)):
        TelegramPlatform.from_config(config)
