"""Slack's deliveries that must change nothing, or only tell someone (BRIDGES.md §3):
edits and deletions, Slack's own changes to a message, the bridge's posts coming back,
repeated event ids after a restart, and private answers while Slack rate-limits."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from server.security.masking import mask_cards
from tests.bridges.actions import AGENT_USER, linked_user, open_thread, say, thread_texts
from tests.bridges.conftest import Setup, create_bridge
from tests.bridges.support import BridgeProcess, eventually
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_payloads import TEAM_ID
from tests.support import clients as C
from tests.support.http import http_client

pytestmark = pytest.mark.asyncio(loop_scope="session")
EDIT_WORDS = "already has the original"


def told(setup: Setup, user: str) -> list[str]:
    return [e["text"] for e in setup.slack.ephemeral if e["user"] == user]


async def test_a_link_preview_is_not_an_edit(setup: Setup) -> None:
    """Slack sends message_changed when it attaches a preview to a message: its author
    did not edit anything and is told nothing."""
    await linked_user(setup)
    ws, _conv, root = await open_thread(setup, "look at this")
    posted = await say(setup, root, "see https://shop.test/help")
    await ws.recv_until(lambda f: f["type"] == "message" and f.get("seq") == 2)
    before = len(told(setup, AGENT_USER))
    status, _ = await setup.slack.post_event(
        setup.bridge.events_url, setup.slack.unfurl_event(posted)
    )
    assert status == 200
    await say(setup, root, "!transfer")  # a usage answer, to know the preview was handled
    answers = await eventually(lambda: told(setup, AGENT_USER)[before:], what="the usage")
    assert len(answers) == 1 and answers[0].startswith("Usage"), answers
    await ws.close()


async def test_edits_of_a_message_that_never_reached_the_visitor_say_nothing(
    setup: Setup,
) -> None:
    ws, _conv, root = await open_thread(setup, "hello?")
    stranger = "U0NOTLINKED"
    posted = await say(setup, root, "I am not linked", user=stranger)
    await eventually(lambda: told(setup, stranger), what="the how-to-link answer")
    for event in (setup.slack.edit_event(posted, "still not"), setup.slack.delete_event(posted)):
        status, _ = await setup.slack.post_event(setup.bridge.events_url, event)
        assert status == 200
    await say(setup, root, "and again", user=stranger)  # a second tip marks the end
    answers = await eventually(lambda: told(setup, stranger)[1:], what="the second tip")
    assert all("/steady link" in text for text in told(setup, stranger)), answers
    await ws.close()


async def test_deleting_a_sent_reply_tells_its_author_once(setup: Setup) -> None:
    await linked_user(setup)
    ws, conv, root = await open_thread(setup, "delete?")
    posted = await say(setup, root, "an answer I regret")
    await ws.recv_until(lambda f: f["type"] == "message" and f["body"] == "an answer I regret")
    before = len(told(setup, AGENT_USER))
    event = setup.slack.delete_event(posted)
    for retry in (0, 1):
        status, _ = await setup.slack.post_event(setup.bridge.events_url, event, retry_num=retry)
        assert status == 200
    notices = await eventually(
        lambda: told(setup, AGENT_USER)[before:], what="the notice about the deletion"
    )
    assert len(notices) == 1 and EDIT_WORDS in notices[0]
    history = await ws.history(conv)
    assert [m["body"] for m in history] == ["delete?", "an answer I regret"]
    await ws.close()


async def test_the_bridges_own_posts_coming_back_change_nothing(setup: Setup) -> None:
    """Slack delivers the app's own messages to it too (as bot_message when posted under
    the visitor's name): none of them may reach the visitor or be answered."""
    await linked_user(setup)
    ws, conv, root = await open_thread(setup, "echo?", name="Echo <!channel>")
    for n in range(3):
        await ws.send_and_ack(conv=conv, body=f"visitor line {n}")
    await eventually(lambda: len(thread_texts(setup.slack, conv)) >= 3, what="3 posts")
    before = len(setup.slack.ephemeral)
    for posted in [root, *setup.slack.bot_thread(conv)]:
        status, _ = await setup.slack.post_event(
            setup.bridge.events_url, setup.slack.message_event(posted)
        )
        assert status == 200
    await ws.expect_no_frame(lambda f: f["type"] == "message" and f.get("seq", 0) > 4, 1.0)
    assert len(setup.slack.ephemeral) == before
    assert len(await ws.history(conv)) == 4
    await ws.close()


async def test_a_repeated_event_id_after_a_restart_is_still_a_repeat(setup: Setup) -> None:
    await linked_user(setup)
    ws, _conv, root = await open_thread(setup, "restart?")
    posted = await say(setup, root, "first version")
    await ws.recv_until(lambda f: f["type"] == "message" and f["body"] == "first version")
    before = len(told(setup, AGENT_USER))
    event = setup.slack.edit_event(posted, "second version")
    assert (await setup.slack.post_event(setup.bridge.events_url, event))[0] == 200
    await eventually(lambda: len(told(setup, AGENT_USER)) > before, what="the edit notice")
    notices = len(told(setup, AGENT_USER))
    setup.bridge.kill9()
    await setup.bridge.astart()
    status, _ = await setup.slack.post_event(setup.bridge.events_url, event, retry_num=1)
    assert status == 200
    await say(setup, root, "!transfer")  # a usage answer marks the end
    await eventually(lambda: len(told(setup, AGENT_USER)) > notices, what="the usage")
    assert [t for t in told(setup, AGENT_USER)[notices:] if EDIT_WORDS in t] == []
    await ws.close()


async def test_private_answers_wait_out_a_rate_limit(setup: Setup) -> None:
    """429 + Retry-After on chat.postEphemeral: the answer comes later, not never."""
    ws, _conv, root = await open_thread(setup, "anyone there?")
    stranger = "U0PATIENT"
    setup.slack.fail(429, 1.5, retry_after=1, methods=frozenset({"chat.postEphemeral"}))
    await say(setup, root, "can I answer?", user=stranger)
    tips = await eventually(lambda: told(setup, stranger), within=20, what="the how-to-link tip")
    assert len(tips) == 1 and "/steady link" in tips[0]
    await ws.close()


async def unlink(setup: Setup, bridge_id: str, user: str) -> None:
    """An admin removes a Slack user's link (DELETE /api/v1/bridges/{id}/links/...)."""
    assert setup.server.demo is not None
    login = await C.login(setup.server, setup.server.demo.admin)
    async with http_client(base_url=setup.server.url) as http:
        resp = await http.delete(
            f"/api/v1/bridges/{bridge_id}/links/{TEAM_ID}:{user}",
            headers={"Authorization": f"Bearer {login['token']}"},
        )
    assert resp.status_code == 200, resp.text


async def test_an_agent_an_admin_unlinked_is_told_how_to_link(setup: Setup) -> None:
    """Unlinked on the server, still linked in the bridge's store: the server refuses the
    reply (no other Slack user links that agent) and the bridge says how to link."""
    await linked_user(setup, user="U0LEAVING", account=1)
    await unlink(setup, setup.bridge_id, "U0LEAVING")
    ws, _conv, root = await open_thread(setup, "who answers?")
    await say(setup, root, "me, I think", user="U0LEAVING")
    answers = await eventually(lambda: told(setup, "U0LEAVING"), what="the answer")
    assert "/steady link" in answers[0], answers
    await ws.expect_no_frame(lambda f: f["type"] == "message" and f.get("seq", 0) > 1, 0.5)
    await ws.close()


def linked_here(state: Path, user: str) -> bool:
    with sqlite3.connect(state) as db:
        query = "SELECT 1 FROM bridge_link WHERE external_user = ?"
        return db.execute(query, (f"{TEAM_ID}:{user}",)).fetchone() is not None


async def test_an_unlink_reaches_a_running_bridge(setup: Setup) -> None:
    """Two Slack users linked to one agent; an admin unlinks one. The server still takes
    frames ``as`` that agent (the other link), so the bridge itself must stop the first
    user: it re-reads its links from the server while it runs."""
    created = create_bridge(setup.server, "slack-unlink")
    slack = await FakeSlack().start()
    bridge = BridgeProcess(
        setup.tmp / "unlink",
        setup.server.url,
        created["token"],
        slack,
        env={"STEADY_BRIDGE_LINKS_REFRESH_SECS": "1"},
    )
    own = Setup(setup.server, slack, bridge, created["bridge_id"], setup.tmp)
    try:
        await bridge.astart()
        for user in ("U0STAYS", "U0GOES"):
            await linked_user(own, user=user, account=1)
        state = bridge.data_dir / "bridge-slack.sqlite3"
        assert linked_here(state, "U0GOES")
        await unlink(own, created["bridge_id"], "U0GOES")
        await eventually(lambda: not linked_here(state, "U0GOES"), what="the refresh")
        ws, conv, root = await open_thread(own, "two of you?")
        await say(own, root, "not me any more", user="U0GOES")
        answers = await eventually(lambda: told(own, "U0GOES"), what="the how-to-link")
        assert "/steady link" in answers[0]
        await say(own, root, "still me", user="U0STAYS")
        await ws.recv_until(lambda f: f["type"] == "message" and f["body"] == "still me")
        assert [m["body"] for m in await ws.history(conv)] == ["two of you?", "still me"]
        await ws.close()
    finally:
        bridge.stop()
        await slack.stop()


async def test_a_stored_body_longer_than_the_send_limit_is_posted_whole(setup: Setup) -> None:
    """The send limit applies to what a client sent; masking then lengthens a body (a
    13-digit card becomes 19 characters, issue #21 item 6). The bridge core reads and
    posts the stored body whole (Slack takes 40,000 characters)."""
    assert setup.server.demo is not None
    admin = (await C.cached_login(setup.server, setup.server.demo.admin))["token"]

    async def masking(on: bool) -> None:
        async with http_client(base_url=setup.server.url, timeout=10) as h:
            resp = await h.put(
                "/api/v1/settings",
                json={"masking": {"cards": on}},
                headers={"Authorization": f"Bearer {admin}"},
            )
        assert resp.status_code == 200, resp.text

    card = "4222222222222;"  # Luhn-valid, 13 digits: "**** **** **** 2222;" once masked
    body = card * (4000 // len(card))
    body += "x" * (4000 - len(body))  # the node's send limit, exactly
    stored = mask_cards(body)
    assert len(body) == 4000 < len(stored)
    await masking(True)
    try:
        ws, conv, _root = await open_thread(setup, "about my card")
        await ws.send_and_ack(body=body, conv=conv)
        posted = await eventually(
            lambda: [t for t in thread_texts(setup.slack, conv) if "2222;" in t],
            what="the long message in the thread",
        )
        assert posted == [stored]
        await ws.close()
    finally:
        await masking(False)
