"""The Telegram bridge end to end (BRIDGES.md §2-3, issue #14 item 3): the real server, the
real bridge process (python-telegram-bot) and a local Telegram (tests/fakes/telegram.py).

One server, one local Telegram and one long-polling bridge serve the module; the webhook,
outage and kill tests start their own bridge (and Telegram) so their faults stay theirs.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bots.core.poster import AGAIN_AFTER_UNKNOWN
from bots.telegram.render import INFO
from tests.bridges.actions import GREETING, greeting_site
from tests.bridges.conftest import create_bridge, link_code
from tests.bridges.support import eventually
from tests.bridges.tg_support import WEBHOOK_SECRET, TelegramBridge
from tests.fakes.telegram import FakeTelegram, Person, Topic
from tests.support import clients as C
from tests.support.http import http_client
from tests.support.server import ServerProcess

pytestmark = pytest.mark.asyncio(loop_scope="session")
AGENT = Person(910001, "Agnes", "agnes")
STRANGER = Person(910002, "Stan", "stan")
_names = itertools.count(1)


@dataclass
class TgSetup:
    server: ServerProcess
    telegram: FakeTelegram
    bridge: TelegramBridge
    bridge_id: str
    tmp: Path


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tg(
    bridge_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TgSetup]:
    tmp = tmp_path_factory.mktemp("telegram-bridge")
    telegram = await FakeTelegram().start()
    created = create_bridge(bridge_server, "telegram-main", "telegram")
    bridge = TelegramBridge(tmp / "main", bridge_server.url, created["token"], telegram)
    await bridge.astart()
    yield TgSetup(bridge_server, telegram, bridge, created["bridge_id"], tmp)
    bridge.stop()
    await telegram.stop()


def unique(name: str) -> str:
    return f"{name} {next(_names)}"


async def visitor(server: ServerProcess, **fields: Any) -> C.WsClient:
    session = await C.new_visitor(server, **fields)
    ws = await C.WsClient.connect(server.ws_url + "/ws/visitor", label="visitor")
    await ws.hello(session["token"])
    return ws


async def open_topic(
    setup: TgSetup, first: str = "Hello", name: str | None = None, **fields: Any
) -> tuple[C.WsClient, str, Topic]:
    name = name or unique("Visitor")
    ws = await visitor(setup.server, name=name, **fields)
    conv = (await ws.send_and_ack(body=first))["conv"]
    topic = await eventually(lambda: setup.telegram.topic_named(name), what="the topic")
    return ws, conv, topic


def texts(telegram: FakeTelegram, topic: Topic) -> list[str]:
    """The topic as people read it, after the intro notice."""
    return telegram.texts(topic.thread_id, topic.chat_id)[1:]


async def link(setup: TgSetup, person: Person = AGENT, account: int = 0) -> str:
    """Link a Telegram user to a demo agent the way an agent would: code, then /link."""
    assert setup.server.demo is not None
    email = setup.server.demo.agents[account].email
    before = len(setup.telegram.private_answers(person))
    setup.telegram.write_private(person, f"/link {link_code(setup.server, email)}")
    answers = await eventually(
        lambda: setup.telegram.private_answers(person)[before:], what="the /link answer"
    )
    assert answers[0].startswith("Linked"), answers
    return email


async def test_a_conversation_becomes_a_topic_with_everything_in_order(tg: TgSetup) -> None:
    name = unique("Ada <b>&amp;")
    ws, conv, topic = await open_topic(
        tg,
        "Hi <b>bold</b> & <a href='https://evil.test'>x</a>",
        name,
        page_url="https://shop.test/p?a=1&b=2",
        language="de",
    )
    assert topic.name == name and not topic.closed
    posts = tg.telegram.bot_posts(topic.thread_id)
    await eventually(lambda: len(tg.telegram.bot_posts(topic.thread_id)) >= 2, what="intro + first")
    posts = tg.telegram.bot_posts(topic.thread_id)
    intro = posts[0].plain
    assert intro.startswith(f"{INFO} New conversation with {name}")
    assert "Page: https://shop.test/p?a=1&b=2" in intro and "Language: de" in intro
    assert posts[1].plain == "Hi <b>bold</b> & <a href='https://evil.test'>x</a>"
    assert posts[1].entities == []  # shown, never interpreted
    assert posts[1].args["link_preview_options"] == {"is_disabled": True}
    for n in range(5):
        await ws.send_and_ack(conv=conv, body=f"line {n}")
    await eventually(lambda: len(texts(tg.telegram, topic)) >= 6, what="6 lines")
    assert texts(tg.telegram, topic)[1:] == [f"line {n}" for n in range(5)]
    await ws.close()


async def test_a_greeted_conversation_keeps_its_order_in_the_topic(tg: TgSetup) -> None:
    """The site's greeting (seq 1) comes before the visitor's question (seq 2). A topic
    shows no message of its own (its intro names the visitor): the topic reads the intro,
    the greeting, then the question, each once; the question is never taken for the root."""
    site = await greeting_site(tg.server)
    ws, conv, topic = await open_topic(tg, "Where is my parcel?", site_key=site)
    await ws.send_and_ack(conv=conv, body="It was order 42")
    await eventually(lambda: len(texts(tg.telegram, topic)) >= 3, what="3 posts")
    await asyncio.sleep(0.5)  # anything posted twice would be there by now
    posts = tg.telegram.texts(topic.thread_id, topic.chat_id)
    assert posts[0].startswith(f"{INFO} New conversation with {topic.name}")
    assert posts[1:] == [f"{INFO} {GREETING}", "Where is my parcel?", "It was order 42"]
    await ws.close()


async def say(setup: TgSetup, topic: Topic, text: str, person: Person = AGENT) -> dict[str, Any]:
    return setup.telegram.write(person, topic.thread_id, text, chat_id=topic.chat_id)


async def admin_get(server: ServerProcess, path: str) -> Any:
    assert server.demo is not None
    login = await C.login(server, server.demo.admin)
    async with http_client(base_url=server.url) as http:
        resp = await http.get(path, headers={"Authorization": f"Bearer {login['token']}"})
    assert resp.status_code == 200, resp.text
    return resp.json()


async def duplicates_seen(bridge: TelegramBridge) -> float:
    async with http_client() as http:
        metrics = (await http.get(bridge.url + "/metrics")).text
    return next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith('steadydesk_bridge_duplicates_total{platform="telegram"}')
    )


async def eventually_async(
    read: Callable[[], Awaitable[float]], ok: Callable[[float], bool], *, what: str
) -> None:
    deadline = time.monotonic() + 15
    while not ok(await read()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_console_replies_and_notes_go_into_the_topic(tg: TgSetup) -> None:
    assert tg.server.demo is not None
    ws, conv, topic = await open_topic(tg, "need help")
    login = await C.login(tg.server, tg.server.demo.agents[1])
    agent = await C.WsClient.connect(tg.server.ws_url + "/ws/agent", label="agent")
    await agent.hello(login["token"])
    await agent.send_json({"type": "accept", "conv": conv})
    await agent.recv_event("conv.assigned", conv)
    await agent.send_and_ack(conv=conv, body="Hello <i>from</i> the console")
    await agent.send_and_ack(conv=conv, body="internal & private", kind="note")
    name = login["agent"]["name"]
    await eventually(lambda: len(texts(tg.telegram, topic)) >= 4, what="4 lines")
    assert texts(tg.telegram, topic) == [
        "need help",
        f"{INFO} Claimed by {name}.",
        f"{name}: Hello <i>from</i> the console",
        f"📝 note: internal & private\n— {name}",
    ]
    bold = tg.telegram.bot_posts(topic.thread_id)[3].entities
    assert bold == [{"type": "bold", "offset": 0, "length": len(name)}]  # only our own markup
    await agent.close()
    await ws.close()


async def test_unlinked_user_is_told_how_to_link_and_nothing_is_sent(tg: TgSetup) -> None:
    ws, _conv, topic = await open_topic(tg, "anyone?")
    update = await say(tg, topic, "I am not linked", STRANGER)
    tip = await eventually(lambda: tg.telegram.replies_to(update), what="the reply with the tip")
    assert "/link CODE" in tip[0].plain and "@SteadyTestBot" in tip[0].plain
    assert tip[0].thread_id == topic.thread_id  # in the topic: the bot cannot DM a stranger
    await ws.expect_no_frame(lambda f: f["type"] == "message" and f.get("seq", 0) > 1, 1.0)
    await ws.close()


async def test_linked_reply_reaches_the_visitor_once_as_that_agent(tg: TgSetup) -> None:
    await link(tg)
    ws, conv, topic = await open_topic(tg, "question")
    update = await say(tg, topic, "Answer <b>from</b> Telegram & co")
    message = await ws.recv_until(lambda f: f["type"] == "message" and f["seq"] == 2)
    assert message["body"] == "Answer <b>from</b> Telegram & co"
    assert message["sender"]["type"] == "agent" and message["cid"].startswith("telegram:")
    # The same update_id again (a lost acknowledgement) changes nothing.
    before = await duplicates_seen(tg.bridge)
    tg.telegram.repeat(update)
    tg.telegram.repeat(update)
    await eventually_async(
        lambda: duplicates_seen(tg.bridge), lambda n: n >= before + 2, what="2 duplicates"
    )
    await ws.send_and_ack(conv=conv, body="thanks")
    await eventually(lambda: "thanks" in texts(tg.telegram, topic), what="thanks")
    history = await ws.history(conv)
    assert [m["body"] for m in history] == [
        "question",
        "Answer <b>from</b> Telegram & co",
        "thanks",
    ]
    # The bridge's own reply is not posted back into the topic.
    assert texts(tg.telegram, topic) == ["question", "thanks"]
    await ws.close()


async def test_notes_from_the_topic_stay_private(tg: TgSetup) -> None:
    await link(tg)
    ws, conv, topic = await open_topic(tg, "private stuff?")
    await say(tg, topic, "/note check the invoice first")
    await say(tg, topic, "note: and the address")
    await say(tg, topic, f"/note@{'SteadyTestBot'} third")
    await say(tg, topic, "/note@OtherBot not ours")  # another bot's command: left alone
    await ws.send_and_ack(conv=conv, body="marker")
    await eventually(lambda: "marker" in texts(tg.telegram, topic), what="the marker")
    history = await ws.history(conv)
    assert [m["body"] for m in history] == ["private stuff?", "marker"]
    body = await admin_get(tg.server, f"/api/v1/conversations/{conv}/messages")
    notes = [m["body"] for m in body["messages"] if m["kind"] == "note"]
    assert notes == ["check the invoice first", "and the address", "third"]
    await ws.close()


async def test_claim_close_and_the_follow_up_reopens_the_topic(tg: TgSetup) -> None:
    await link(tg)
    name = unique("Closer")
    ws, conv, topic = await open_topic(tg, "close me", name)
    await say(tg, topic, "/claim")
    assigned = await ws.recv_event("conv.assigned", conv)
    await say(tg, topic, "/close@SteadyTestBot")
    closed = await ws.recv_event("conv.closed", conv)
    assert closed["data"]["by"]["id"] == assigned["data"]["agent"]["id"]
    await eventually(lambda: topic.closed, what="closeForumTopic")
    await eventually(
        lambda: any("closed by" in t for t in texts(tg.telegram, topic)), what="the notice"
    )
    # The visitor writes again: a new conversation, linked to the closed one, in the same
    # topic, reopened.
    again = (await ws.send_and_ack(body="one more thing"))["conv"]
    assert again != conv
    await eventually(lambda: not topic.closed, what="reopenForumTopic")
    await eventually(lambda: "one more thing" in texts(tg.telegram, topic), what="the new message")
    assert tg.telegram.topics_named(name) == [topic]
    lines = texts(tg.telegram, topic)
    reopened = next(i for i, t in enumerate(lines) if "wrote again" in t)
    assert any("closed by" in t for t in lines[:reopened])
    # Replies in the topic now go to the new conversation.
    await say(tg, topic, "welcome back")
    await ws.recv_until(
        lambda f: f["type"] == "message" and f["conv"] == again and f["body"] == "welcome back"
    )
    await ws.close()


async def test_transfer_by_name(tg: TgSetup) -> None:
    assert tg.server.demo is not None
    await link(tg)
    login = await C.login(tg.server, tg.server.demo.admin)
    headers = {"Authorization": f"Bearer {login['token']}"}
    async with http_client(base_url=tg.server.url, headers=headers) as http:
        made = await http.post("/api/v1/departments", json={"name": "Billing Team"})
        assert made.status_code == 201, made.text
        billing = made.json()["id"]
        agents = (await http.get("/api/v1/agents")).json()["agents"]
    second = next(a for a in agents if a["email"] == tg.server.demo.agents[1].email)
    ws, conv, topic = await open_topic(tg, "transfer me")
    await say(tg, topic, "/claim")
    await ws.recv_event("conv.assigned", conv)
    unknown = await say(tg, topic, "/transfer Nobody At All")
    told = await eventually(lambda: tg.telegram.replies_to(unknown), what="the answer")
    assert "No agent or department is named 'Nobody At All'" in told[0].plain
    await say(tg, topic, f"/transfer {second['name'].upper()}")
    moved = await ws.recv_event("conv.transferred", conv)
    assert moved["data"]["to_agent"]["id"] == second["id"]
    await say(tg, topic, "/transfer billing team")
    moved = await ws.recv_event("conv.transferred", conv, timeout=15)
    assert moved["data"]["to_department"]["id"] == billing
    await eventually(
        lambda: sum("Transferred" in t for t in texts(tg.telegram, topic)) >= 2,
        what="two transfer notices",
    )
    await ws.close()


async def test_edits_and_voice_notes_are_not_passed_on_and_the_author_is_told(
    tg: TgSetup,
) -> None:
    await link(tg)
    ws, _conv, topic = await open_topic(tg, "edit?")
    update = await say(tg, topic, "original answer")
    await ws.recv_until(lambda f: f["type"] == "message" and f["body"] == "original answer")
    edit = tg.telegram.edit(AGENT, update, "changed")
    told = await eventually(lambda: tg.telegram.replies_to(edit), what="the edit notice")
    assert "already has the original" in told[0].plain
    voice = tg.telegram.send_voice(AGENT, topic.thread_id)
    told = await eventually(lambda: tg.telegram.replies_to(voice), what="the voice notice")
    assert "Only text, photos and files" in told[0].plain
    await ws.expect_no_frame(lambda f: f["type"] == "message" and f["body"] == "changed", 1.0)
    await ws.close()


async def test_health_metrics_and_no_token_in_the_log(tg: TgSetup) -> None:
    status, health = await tg.bridge.health()
    assert status == 200
    assert health == {
        "server": "OK",
        "platform": "OK",
        "breakers": {"server": "closed", "platform": "closed"},
        "outbox": health["outbox"],
    }
    async with http_client() as http:
        text = (await http.get(tg.bridge.url + "/metrics")).text
        webhook = await http.post(tg.bridge.webhook_url, json={"update_id": 1})
    for name in (
        "breaker_state",
        "outbox_depth",
        "posted_total",
        "received_total",
        "thread_latency_seconds_bucket",
    ):
        assert f"steadydesk_bridge_{name}" in text, name
    assert webhook.status_code == 404  # long polling: no webhook path
    log = tg.bridge.log_path.read_text()
    assert tg.telegram.token not in log and tg.telegram.token.split(":")[1] not in log


async def own_bridge(
    setup: TgSetup, name: str, *, webhook: bool = False
) -> tuple[FakeTelegram, TelegramBridge]:
    telegram = await FakeTelegram().start()
    created = create_bridge(setup.server, f"telegram-{name}", "telegram")
    bridge = TelegramBridge(
        setup.tmp / name, setup.server.url, created["token"], telegram, webhook=webhook
    )
    await bridge.astart()
    return telegram, bridge


async def test_webhook_deliveries_are_checked_against_the_secret(tg: TgSetup) -> None:
    telegram, bridge = await own_bridge(tg, "webhook", webhook=True)
    try:
        await eventually(lambda: telegram.webhook, what="setWebhook")
        assert telegram.webhook["url"] == bridge.webhook_url
        assert telegram.webhook["secret_token"] == WEBHOOK_SECRET
        setup = TgSetup(tg.server, telegram, bridge, "", tg.tmp)
        await link(setup)  # the link itself came by the webhook
        ws, conv, topic = await open_topic(setup, "over the webhook")
        update = telegram.write(AGENT, topic.thread_id, "forged?")
        telegram.updates.remove(update)  # delivered by hand below, not by the pusher
        for secret in (None, "guess", WEBHOOK_SECRET[:-1], WEBHOOK_SECRET + "x"):
            assert await telegram.deliver(bridge.webhook_url, update, secret=secret) == 401
        await ws.expect_no_frame(lambda f: f["type"] == "message" and f.get("seq", 0) > 1, 1.0)
        # The genuine delivery still works (nothing was marked seen), and twice is once.
        for _ in range(2):
            assert await telegram.deliver(bridge.webhook_url, update, secret=WEBHOOK_SECRET) == 200
        await ws.recv_until(lambda f: f["type"] == "message" and f["body"] == "forged?")
        telegram.write(AGENT, topic.thread_id, "by the pusher")
        await ws.recv_until(lambda f: f["type"] == "message" and f["body"] == "by the pusher")
        await ws.send_and_ack(conv=conv, body="end")
        history = await ws.history(conv)
        assert [m["body"] for m in history] == [
            "over the webhook",
            "forged?",
            "by the pusher",
            "end",
        ]
        assert not any(m == "getUpdates" for m, _ in telegram.calls)
        await ws.close()
    finally:
        bridge.stop()
        await telegram.stop()


async def test_an_outage_of_500s_then_429s_loses_and_doubles_nothing(tg: TgSetup) -> None:
    """30 s of trouble mid-conversation (issue #14): 15 s of 500s, then 15 s of 429s."""
    telegram, bridge = await own_bridge(tg, "outage")
    try:
        setup = TgSetup(tg.server, telegram, bridge, "", tg.tmp)
        ws, conv, topic = await open_topic(setup, "before the outage")
        await eventually(lambda: texts(telegram, topic) == ["before the outage"], what="start")
        telegram.fail(500, 15)
        sent = []
        for n in range(6):
            sent.append(f"during 500 #{n}")
            await ws.send_and_ack(conv=conv, body=sent[-1])
            await asyncio.sleep(2.5)
        status, health = await bridge.health()
        assert status == 503 and health["platform"] != "OK" and health["outbox"] > 0
        assert health["breakers"]["platform"] in ("open", "half_open")
        telegram.fail(429, 15, retry_after=3)
        for n in range(6):
            sent.append(f"during 429 #{n}")
            await ws.send_and_ack(conv=conv, body=sent[-1])
            await asyncio.sleep(2.5)
        await eventually(
            lambda: len(texts(telegram, topic)) >= 1 + len(sent),
            within=60,
            what="every message after the outage",
        )
        await asyncio.sleep(0.5)
        assert texts(telegram, topic) == ["before the outage", *sent]
        await bridge.wait_healthy(30)
        async with http_client() as http:
            metrics = (await http.get(bridge.url + "/metrics")).text
        assert 'reason="unavailable",target="platform"' in metrics
        assert 'reason="rate_limited",target="platform"' in metrics
        await ws.close()
    finally:
        bridge.stop()
        await telegram.stop()


KILLS = 20


async def test_kill9_mid_stream_20_times_loses_nothing(tg: TgSetup) -> None:
    """kill -9 of the bridge while messages stream, 20 times, then the history check:
    every message of the conversation is in the topic, in order; a message may appear
    twice only when a kill fell between Telegram's accept and the local commit (the
    duplicate window: docs/bridges.md), and the count is reported."""
    telegram, bridge = await own_bridge(tg, "kill9")
    try:
        setup = TgSetup(tg.server, telegram, bridge, "", tg.tmp)
        telegram.latency_secs = 0.005  # a post takes a moment, as a real one does
        ws, conv, topic = await open_topic(setup, "m0")
        expected = ["m0"]
        started = time.monotonic()
        for kill in range(KILLS):
            for n in range(1, 6):
                expected.append(f"k{kill} m{n}")
                await ws.send_and_ack(conv=conv, body=expected[-1])
                if n == 3:
                    await asyncio.sleep(0.02 * (kill % 5))  # land the kill in varied places
                    bridge.kill9()
            await bridge.astart()
        await eventually(
            lambda: set(telegram.texts(topic.thread_id)) >= set(expected),
            within=60,
            what="every message after the kills",
        )
        await asyncio.sleep(1.0)
        posts = telegram.texts(topic.thread_id)  # the intro too: a kill may catch it
        duplicates = len(posts) - len(set(posts))
        deduplicated = list(dict.fromkeys(p for p in posts if not p.startswith(INFO)))
        print(
            f"\nkill -9 x{KILLS}: {len(expected)} messages, 0 lost, {duplicates} duplicate "
            f"post(s) in the topic, {time.monotonic() - started:.1f} s"
        )
        assert deduplicated == expected  # nothing lost, in order
        # Only a post whose attempt a kill cut short is made again, so a duplicate comes
        # only from a kill inside the window.
        again = bridge.log_path.read_text().count(AGAIN_AFTER_UNKNOWN)
        print(f"posts made again after a kill cut their attempt short: {again}")
        assert duplicates <= again <= KILLS
        history = await ws.history(conv)
        assert [m["body"] for m in history] == expected
        assert len(telegram.topics_named(topic.name)) == 1
        await ws.close()
    finally:
        bridge.stop()
        await telegram.stop()


async def test_a_transfer_to_a_department_of_another_group_moves_the_topic(tg: TgSetup) -> None:
    assert tg.server.demo is not None
    login = await C.login(tg.server, tg.server.demo.admin)
    async with http_client(
        base_url=tg.server.url, headers={"Authorization": f"Bearer {login['token']}"}
    ) as http:
        made = await http.post("/api/v1/departments", json={"name": "Returns Desk"})
        assert made.status_code == 201, made.text
    returns, other_group = made.json()["id"], -1002000000002
    telegram = await FakeTelegram().start()
    telegram.add_group(other_group, "Returns")
    created = create_bridge(tg.server, "telegram-move", "telegram")
    bridge = TelegramBridge(
        tg.tmp / "move",
        tg.server.url,
        created["token"],
        telegram,
        env={"TELEGRAM_CHAT_MAP": f'{{"{returns}": "{other_group}"}}'},
    )
    try:
        await bridge.astart()
        setup = TgSetup(tg.server, telegram, bridge, "", tg.tmp)
        await link(setup)
        name = unique("Mover")
        ws, conv, topic = await open_topic(setup, "wrong desk", name)
        await say(setup, topic, "/transfer Returns Desk")
        await ws.recv_event("conv.transferred", conv)
        moved = await eventually(
            lambda: telegram.topic_named(name, other_group), what="the topic in the other group"
        )
        await ws.send_and_ack(conv=conv, body="still there?")
        await eventually(
            lambda: "still there?" in telegram.texts(moved.thread_id, other_group),
            what="the message in the new topic",
        )
        new_lines = telegram.texts(moved.thread_id, other_group)
        assert new_lines[0].startswith(f"{INFO} New conversation with {name}")
        old_lines = texts(telegram, topic)
        assert any("continues in another group" in line for line in old_lines)
        assert "still there?" not in old_lines
        await ws.close()
    finally:
        bridge.stop()
        await telegram.stop()
