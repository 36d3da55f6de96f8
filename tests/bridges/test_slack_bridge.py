"""The Slack bridge end to end (BRIDGES.md §2-3, issue #13 item 4): the real server, the
real bridge process (slack-bolt + slack_sdk) and a local Slack (tests/fakes/slack.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from bots.core.poster import AGAIN_AFTER_UNKNOWN
from bots.slack.render import INFO
from tests.bridges.actions import (
    AGENT_USER,
    GREETING,
    greeting_site,
    linked_user,
    open_thread,
    say,
    thread_bodies,
    thread_texts,
    visitor,
)
from tests.bridges.conftest import Setup, create_bridge, link_code, steadydesk
from tests.bridges.support import CHANNEL, BridgeProcess, eventually
from tests.fakes.slack import FakeSlack, Posted
from tests.support import clients as C
from tests.support.http import http_client

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_conversation_becomes_a_thread_with_everything_in_order(setup: Setup) -> None:
    ws, conv, root = await open_thread(
        setup,
        "Hi <!channel> & <@U999> *bold*",
        name="Ada <b>",
        page_url="https://shop.test/p",
        language="de",
    )
    assert "&lt;!channel&gt; &amp; &lt;@U999&gt; *bold*" in root.text
    assert "<!channel>" not in root.text and root.args.get("mrkdwn") in (False, "false", "0")
    blocks = str(root.blocks)
    assert "https://shop.test/p" in blocks and "de" in blocks and "Ada <b>" in blocks
    actions = next(b for b in root.blocks or [] if b["type"] == "actions")["elements"]
    assert [(a["action_id"], a["value"]) for a in actions] == [
        ("steady_claim", conv),
        ("steady_transfer", conv),
        ("steady_close", conv),
    ]
    assert root.args.get("unfurl_links") in (False, "false", "0")
    for n in range(5):
        await ws.send_and_ack(conv=conv, body=f"line {n} <https://evil.test|click>")
    await eventually(lambda: len(thread_texts(setup.slack, conv)) >= 5, what="5 lines")
    assert thread_texts(setup.slack, conv) == [
        f"line {n} &lt;https://evil.test|click&gt;" for n in range(5)
    ]
    await ws.close()


def roots_of(slack: FakeSlack, conv: str) -> list[Posted]:
    """Every root posted for a conversation (one, unless one was posted twice)."""
    return [
        r
        for r in slack.roots()
        if ((r.metadata or {}).get("event_payload") or {})
        == {
            "conv": conv,
            "ref": "root",
        }
    ]


async def test_a_greeted_conversation_shows_the_question_on_the_root(setup: Setup) -> None:
    """The site greets: the server stores the greeting (seq 1) before the visitor's question
    (seq 2). The root still shows the question; the greeting is the thread's first reply;
    the question is not posted again."""
    site = await greeting_site(setup.server)
    question = "Where is my parcel? <!channel>"
    ws, conv, root = await open_thread(setup, question, name="Greta", site_key=site)
    history = await ws.history(conv)
    assert [(m["seq"], m["sender"]["type"]) for m in history] == [(1, "system"), (2, "visitor")]
    assert root.text == "New conversation with Greta: Where is my parcel? &lt;!channel&gt;"
    assert question in [(b.get("text") or {}).get("text") for b in root.blocks or []]
    await ws.send_and_ack(conv=conv, body="It was order 42")
    await eventually(lambda: len(thread_texts(setup.slack, conv)) >= 2, what="2 replies")
    await asyncio.sleep(0.5)  # anything posted twice would be there by now
    assert thread_texts(setup.slack, conv) == [f"{INFO} {GREETING}", "It was order 42"]
    assert len(roots_of(setup.slack, conv)) == 1
    await ws.close()


async def test_kill9_between_the_greeted_root_and_its_record_posts_nothing_twice(
    setup: Setup,
) -> None:
    """Slack takes the root (showing the question, not the greeting before it) and the
    bridge dies before it hears back: after the restart it finds the root, counts the
    question as shown, posts the greeting as the first reply, and nothing twice."""
    site = await greeting_site(setup.server)
    created = create_bridge(setup.server, "slack-kill-root")
    slack = await FakeSlack().start()
    bridge = BridgeProcess(setup.tmp / "kill-root", setup.server.url, created["token"], slack)
    kills: list[str] = []

    def kill_on_the_root(posted: Posted) -> None:
        # Only this conversation's root: the new bridge back-fills the module's others.
        if not posted.thread_ts and "Kilian" in posted.text and not kills:
            kills.append(posted.ts)
            bridge.kill9()  # Slack has the root; the bridge never hears its answer

    try:
        await bridge.astart()
        slack.on_post = kill_on_the_root
        ws, _ = await visitor(setup, name="Kilian", site_key=site)
        conv = (await ws.send_and_ack(body="Is my order lost?"))["conv"]
        await eventually(lambda: kills, what="the root, and the kill")
        await bridge.astart()
        await ws.send_and_ack(conv=conv, body="after the restart")
        await eventually(lambda: len(thread_texts(slack, conv)) >= 2, within=30, what="the replies")
        await asyncio.sleep(1.0)  # anything posted twice would be there by now
        assert [r.ts for r in roots_of(slack, conv)] == kills
        root = slack.root_of(conv)
        assert root is not None and root.text.endswith(": Is my order lost?")
        assert thread_texts(slack, conv) == [f"{INFO} {GREETING}", "after the restart"]
        assert AGAIN_AFTER_UNKNOWN not in bridge.log_tail(400)
        await ws.close()
    finally:
        bridge.stop()
        await slack.stop()


async def test_console_replies_and_notes_go_into_the_thread(setup: Setup) -> None:
    assert setup.server.demo is not None
    ws, conv, _root = await open_thread(setup, "need help")
    login = await C.login(setup.server, setup.server.demo.agents[1])
    agent = await C.WsClient.connect(setup.server.ws_url + "/ws/agent", label="agent")
    await agent.hello(login["token"])
    await agent.send_json({"type": "accept", "conv": conv})
    await agent.recv_event("conv.assigned", conv)
    await agent.send_and_ack(conv=conv, body="Hello from the console")
    await agent.send_and_ack(conv=conv, body="internal", kind="note")
    name = login["agent"]["name"]
    await eventually(lambda: len(thread_texts(setup.slack, conv)) >= 3, what="3 lines")
    texts = thread_texts(setup.slack, conv)
    assert texts[0] == f"{INFO} Claimed by {name}."
    assert texts[1] == f"{name}: Hello from the console"
    assert texts[2].startswith("📝 note") and texts[2].endswith(": internal")
    await agent.close()
    await ws.close()


async def test_unlinked_user_is_told_how_to_link_and_nothing_is_sent(setup: Setup) -> None:
    ws, _conv, root = await open_thread(setup, "anyone?")
    await say(setup, root, "I am not linked", user="U0STRANGER")
    tip = await eventually(
        lambda: [e for e in setup.slack.ephemeral if e["user"] == "U0STRANGER"],
        what="the ephemeral tip",
    )
    assert "/steady link" in tip[0]["text"]
    await ws.expect_no_frame(lambda f: f["type"] == "message" and f.get("seq", 0) > 1, 1.0)
    await ws.close()


async def test_linked_reply_reaches_the_visitor_once_as_that_agent(setup: Setup) -> None:
    email = await linked_user(setup)
    ws, conv, root = await open_thread(setup, "question")
    posted = await say(setup, root, "Answer <b>from</b> Slack")
    message = await ws.recv_until(lambda f: f["type"] == "message" and f["seq"] == 2)
    assert message["body"] == "Answer <b>from</b> Slack"
    assert message["sender"]["type"] == "agent" and message["cid"].startswith("slack:")
    assert setup.server.demo is not None and email == setup.server.demo.agents[0].email
    # A retry of the same delivery (and a second copy of the event id) change nothing.
    event = setup.slack.message_event(posted)
    for retry in (1, 2):
        status, _ = await setup.slack.post_event(setup.bridge.events_url, event, retry_num=retry)
        assert status == 200
    await ws.send_and_ack(conv=conv, body="thanks")
    await ws.recv_until(lambda f: f["type"] == "message" and f["body"] == "thanks")
    history = await ws.history(conv)
    assert [m["body"] for m in history] == ["question", "Answer <b>from</b> Slack", "thanks"]
    # The bridge's own reply is not posted into the thread a second time.
    await eventually(lambda: "thanks" in thread_texts(setup.slack, conv), what="thanks")
    assert not any("Answer" in t for t in thread_texts(setup.slack, conv))
    await ws.close()


async def test_notes_from_the_thread_and_the_shortcut_stay_private(setup: Setup) -> None:
    await linked_user(setup)
    ws, conv, root = await open_thread(setup, "private stuff?")
    await say(setup, root, "note: check the invoice first")
    other = setup.slack.user_message(root.channel, root.ts, "U0SOMEONE", "worth a note")
    for _ in range(2):  # the same message added twice makes one note
        status, _ = await setup.slack.post_interaction(
            setup.bridge.events_url, setup.slack.shortcut_payload(other, AGENT_USER)
        )
        assert status == 200
    await ws.send_and_ack(conv=conv, body="marker")
    history = await ws.history(conv)
    assert [m["body"] for m in history] == ["private stuff?", "marker"]  # notes never shown
    assert setup.server.demo is not None
    login = await C.login(setup.server, setup.server.demo.admin)
    async with http_client(base_url=setup.server.url) as http:
        resp = await http.get(
            f"/api/v1/conversations/{conv}/messages",
            headers={"Authorization": f"Bearer {login['token']}"},
        )
    notes = [m["body"] for m in resp.json()["messages"] if m["kind"] == "note"]
    assert notes == ["check the invoice first", "worth a note"]
    await ws.close()


async def test_forged_or_stale_signatures_are_401_and_change_nothing(setup: Setup) -> None:
    await linked_user(setup)
    ws, _conv, root = await open_thread(setup, "sign me")
    posted = setup.slack.user_message(root.channel, root.ts, AGENT_USER, "forged reply")
    event = setup.slack.message_event(posted)
    assert (await setup.slack.post_event(setup.bridge.events_url, event, secret="guess"))[0] == 401
    stale = int(time.time()) - 6 * 60
    assert (await setup.slack.post_event(setup.bridge.events_url, event, timestamp=stale))[0] == 401
    future = int(time.time()) + 6 * 60
    assert (await setup.slack.post_event(setup.bridge.events_url, event, timestamp=future))[
        0
    ] == 401
    async with http_client() as http:
        unsigned = await http.post(setup.bridge.events_url, json=event)
    assert unsigned.status_code == 401
    await ws.expect_no_frame(lambda f: f["type"] == "message" and f.get("seq", 0) > 1, 1.0)
    # The genuine delivery of the same event still works: nothing was marked seen.
    assert (await setup.slack.post_event(setup.bridge.events_url, event))[0] == 200
    await ws.recv_until(lambda f: f["type"] == "message" and f["body"] == "forged reply")
    await ws.close()


async def test_claim_and_close_from_the_thread(setup: Setup) -> None:
    await linked_user(setup)
    ws, conv, root = await open_thread(setup, "close me")
    await say(setup, root, "!claim")
    assigned = await ws.recv_event("conv.assigned", conv)
    assert setup.server.demo is not None
    status, _ = await setup.slack.post_interaction(
        setup.bridge.events_url,
        setup.slack.button_payload(conv, "steady_close", AGENT_USER, root.channel, root.ts),
    )
    assert status == 200
    closed = await ws.recv_event("conv.closed", conv)
    assert closed["data"]["by"]["id"] == assigned["data"]["agent"]["id"]
    await eventually(
        lambda: any("closed" in t for t in thread_texts(setup.slack, conv)),
        what="the closing notice",
    )
    await ws.close()


async def test_an_outage_of_500s_then_429s_loses_and_doubles_nothing(setup: Setup) -> None:
    ws, conv, _root = await open_thread(setup, "before the outage")
    setup.slack.fail(500, 4)
    sent = [f"during 500 #{n}" for n in range(4)]
    for body in sent:
        await ws.send_and_ack(conv=conv, body=body)
    await asyncio.sleep(4.2)
    setup.slack.fail(429, 3, retry_after=1)
    more = [f"during 429 #{n}" for n in range(4)]
    for body in more:
        await ws.send_and_ack(conv=conv, body=body)
    await eventually(
        lambda: len(thread_texts(setup.slack, conv)) >= 8,
        within=40,
        what="every message after the outage",
    )
    await asyncio.sleep(0.5)
    assert thread_texts(setup.slack, conv) == sent + more
    status, health = await setup.bridge.health()
    assert status == 200 and health["outbox"] == 0
    async with http_client() as http:
        metrics = (await http.get(setup.bridge.url + "/metrics")).text
    assert 'steadydesk_bridge_retries_total{platform="slack",reason="unavailable"' in metrics
    assert 'reason="rate_limited"' in metrics
    await ws.close()


async def test_edits_are_not_passed_on_and_the_author_is_told(setup: Setup) -> None:
    await linked_user(setup)
    ws, _conv, root = await open_thread(setup, "edit?")
    posted = await say(setup, root, "original answer")
    await ws.recv_until(lambda f: f["type"] == "message" and f["body"] == "original answer")
    before = len(setup.slack.ephemeral)
    status, _ = await setup.slack.post_event(
        setup.bridge.events_url, setup.slack.edit_event(posted, "changed")
    )
    assert status == 200
    told = await eventually(lambda: setup.slack.ephemeral[before:], what="the edit notice")
    assert "already has the original" in told[0]["text"]
    await ws.expect_no_frame(lambda f: f["type"] == "message" and f["body"] == "changed", 1.0)
    await ws.close()


async def test_health_and_metrics_follow_the_contract(setup: Setup) -> None:
    status, health = await setup.bridge.health()
    assert status == 200
    assert health == {
        "server": "OK",
        "platform": "OK",
        "breakers": {"server": "closed", "platform": "closed"},
        "outbox": health["outbox"],
    }
    async with http_client() as http:
        text = (await http.get(setup.bridge.url + "/metrics")).text
    for name in (
        "breaker_state",
        "outbox_depth",
        "posted_total",
        "received_total",
        "thread_latency_seconds_bucket",
    ):
        assert f"steadydesk_bridge_{name}" in text, name


async def test_kill9_mid_stream_then_restart_posts_each_message_once(setup: Setup) -> None:
    created = create_bridge(setup.server, "slack-kill")
    slack = await FakeSlack().start()
    bridge = BridgeProcess(setup.tmp / "kill9", setup.server.url, created["token"], slack)
    try:
        await bridge.astart()
        ws, _ = await visitor(setup)
        conv = (await ws.send_and_ack(body="m0"))["conv"]
        expected = ["m0"]
        for round_ in range(3):
            for n in range(1, 11):
                body = f"r{round_} m{n}"
                expected.append(body)
                await ws.send_and_ack(conv=conv, body=body)
                if n == 5:
                    bridge.kill9()
            await bridge.astart()
        await eventually(
            lambda: len(thread_bodies(slack, conv)) >= len(expected),
            within=40,
            what="every message after the kills",
        )
        await asyncio.sleep(1.0)
        assert thread_bodies(slack, conv) == expected
        await ws.close()
    finally:
        bridge.stop()
        await slack.stop()


async def test_a_revoked_bridge_exits_non_zero_with_one_clear_line(setup: Setup) -> None:
    created = create_bridge(setup.server, "slack-revoked")
    slack = await FakeSlack().start()
    bridge = BridgeProcess(setup.tmp / "revoked", setup.server.url, created["token"], slack)
    try:
        await bridge.astart()
        assert setup.server.demo is not None
        steadydesk(
            setup.server,
            "bridge",
            "revoke",
            created["bridge_id"],
            "--tenant",
            setup.server.demo.tenant,
        )
        assert bridge.proc is not None
        code = await asyncio.get_running_loop().run_in_executor(None, bridge.proc.wait, 15)
        assert code == 3
        last = bridge.log_tail(3)
        assert "refused the bridge token" in last and "Traceback" not in bridge.log_tail(200)
    finally:
        bridge.stop()
        await slack.stop()


async def test_socket_mode_delivers_replies_without_a_public_url(setup: Setup) -> None:
    created = create_bridge(setup.server, "slack-socket")
    slack = await FakeSlack().start()
    bridge = BridgeProcess(
        setup.tmp / "socket", setup.server.url, created["token"], slack, socket_mode=True
    )
    try:
        await bridge.astart()
        await eventually(lambda: slack.socket_connected, what="the Socket Mode connection")
        assert setup.server.demo is not None
        code = link_code(setup.server, setup.server.demo.agents[0].email)
        answer = await slack.send_envelope(
            "slash_commands", slack.command_fields(f"link {code}", AGENT_USER, CHANNEL)
        )
        assert "Linked" in str(answer.get("payload"))
        ws, _ = await visitor(setup)
        conv = (await ws.send_and_ack(body="over the socket"))["conv"]
        root = await eventually(lambda: slack.root_of(conv), what="the root")
        posted = slack.user_message(root.channel, root.ts, AGENT_USER, "socket reply")
        event = slack.message_event(posted)
        await slack.send_envelope("events_api", event)
        await slack.send_envelope("events_api", event, retry_attempt=1)
        await ws.recv_until(lambda f: f["type"] == "message" and f["body"] == "socket reply")
        await ws.send_and_ack(conv=conv, body="end")
        history = await ws.history(conv)
        assert [m["body"] for m in history] == ["over the socket", "socket reply", "end"]
        await ws.close()
    finally:
        bridge.stop()
        await slack.stop()
