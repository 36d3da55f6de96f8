"""Back-fill (BRIDGES.md §3, issue #13 item 3): what happened while the bridge was down,
or before it ever ran, is in Slack once it starts: every open conversation a thread with
all its messages in order, closed ones closed, and linked agents still linked."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bots.slack.render import INFO
from tests.bridges.actions import AGENT_USER, thread_bodies, thread_texts
from tests.bridges.conftest import create_bridge, link_code
from tests.bridges.support import CHANNEL, BridgeProcess, eventually
from tests.fakes.slack import FakeSlack
from tests.support import clients as C
from tests.support.server import ServerProcess

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def new_visitor(server: ServerProcess) -> C.WsClient:
    session = await C.new_visitor(server, name="Back Fill", page_url="https://shop.test/b")
    ws = await C.WsClient.connect(server.ws_url + "/ws/visitor", label="visitor")
    await ws.hello(session["token"])
    return ws


async def console(server: ServerProcess, account: int = 1) -> tuple[C.WsClient, str]:
    assert server.demo is not None
    login = await C.login(server, server.demo.agents[account])
    agent = await C.WsClient.connect(server.ws_url + "/ws/agent", label="agent")
    await agent.hello(login["token"])
    return agent, str(login["agent"]["name"])


def open_threads(state: Path) -> set[str]:
    """The conversations the bridge's state store would name in ``resume``."""
    with sqlite3.connect(state) as db:
        return {row[0] for row in db.execute("SELECT conv FROM bridge_thread WHERE status='open'")}


async def test_what_happened_while_the_bridge_was_down_is_back_filled(
    bridge_server: ServerProcess, tmp_path: Path
) -> None:
    server = bridge_server
    created = create_bridge(server, "slack-backfill")
    slack = await FakeSlack().start()
    bridge = BridgeProcess(tmp_path / "bridge", server.url, created["token"], slack)
    agent, name = await console(server)
    try:
        await bridge.astart()
        known = await new_visitor(server)  # a conversation the bridge mirrors already
        closing = (await known.send_and_ack(body="close me later"))["conv"]
        await eventually(lambda: slack.root_of(closing), what="the first thread")
        assert bridge.stop() == 0

        # While the bridge is down: a conversation opens and is answered, another closes.
        ws = await new_visitor(server)
        conv = (await ws.send_and_ack(body="v1 <!here>"))["conv"]
        await ws.send_and_ack(conv=conv, body="v2")
        await agent.send_json({"type": "accept", "conv": conv})
        await agent.recv_event("conv.assigned", conv)
        await agent.send_and_ack(conv=conv, body="a reply")
        await agent.send_and_ack(conv=conv, body="mind the invoice", kind="note")
        await ws.send_and_ack(conv=conv, body="v3")
        await agent.send_json({"type": "accept", "conv": closing})
        await agent.recv_event("conv.assigned", closing)
        await agent.send_json({"type": "close", "conv": closing})
        await agent.recv_event("conv.closed", closing)

        await bridge.astart()
        expected = [
            "v1 &lt;!here&gt;",
            "v2",
            f"{name}: a reply",
            f"📝 note ({name}): mind the invoice",
            "v3",
        ]
        await eventually(
            lambda: len(thread_bodies(slack, conv)) >= len(expected),
            within=30,
            what="the back-filled thread",
        )
        root = slack.root_of(conv)
        assert root is not None and "Back Fill" in str(root.blocks)
        assert "https://shop.test/b" in str(root.blocks)
        await eventually(
            lambda: any("closed" in t for t in thread_texts(slack, closing)),
            within=30,
            what="the close that happened while the bridge was down",
        )
        assert thread_bodies(slack, conv) == expected
        assert thread_texts(slack, closing) == [f"{INFO} Conversation closed."]
        await eventually(
            lambda: closing not in open_threads(bridge.data_dir / "bridge-slack.sqlite3"),
            what="the closed conversation leaving the resume map",
        )
        assert len(slack.roots()) == 2  # nothing opened twice
        await ws.close()
        await known.close()
    finally:
        await agent.close()
        bridge.stop()
        await slack.stop()


async def test_a_first_start_with_an_empty_state_store(
    bridge_server: ServerProcess, tmp_path: Path
) -> None:
    """Open conversations from before the bridge existed get their threads; an agent
    linked through an earlier state store (or another host) is still linked."""
    server = bridge_server
    assert server.demo is not None
    created = create_bridge(server, "slack-fresh")
    visitors: list[tuple[C.WsClient, str, list[str]]] = []
    for n in range(3):
        ws = await new_visitor(server)
        bodies = [f"early {n}.{i}" for i in range(4)]
        conv = (await ws.send_and_ack(body=bodies[0]))["conv"]
        for body in bodies[1:]:
            await ws.send_and_ack(conv=conv, body=body)
        visitors.append((ws, conv, bodies))

    first_slack = await FakeSlack().start()
    first = BridgeProcess(tmp_path / "first", server.url, created["token"], first_slack)
    await first.astart()
    code = link_code(server, server.demo.agents[0].email)
    status, body = await first_slack.post_form(
        first.events_url, first_slack.command_fields(f"link {code}", AGENT_USER, CHANNEL)
    )
    assert status == 200 and "Linked" in body
    first.stop()
    await first_slack.stop()

    slack = await FakeSlack().start()
    fresh = BridgeProcess(tmp_path / "fresh", server.url, created["token"], slack)
    try:
        await fresh.astart()
        for _ws, conv, bodies in visitors:
            await eventually(
                lambda c=conv, b=bodies: thread_bodies(slack, c) == b,  # type: ignore[misc]
                within=30,
                what=f"the thread of {conv} with its history",
            )
        ws, conv, _bodies = visitors[0]
        root = slack.root_of(conv)
        assert root is not None
        reply = slack.user_message(root.channel, root.ts, AGENT_USER, "still linked")
        status, _ = await slack.post_event(fresh.events_url, slack.message_event(reply))
        assert status == 200
        got: dict[str, Any] = await ws.recv_until(
            lambda f: f["type"] == "message" and f["body"] == "still linked", 15
        )
        assert got["sender"]["type"] == "agent"
        assert not [e for e in slack.ephemeral if e["user"] == AGENT_USER]
    finally:
        for ws, _conv, _bodies in visitors:
            await ws.close()
        fresh.stop()
        await slack.stop()


async def test_the_first_conversation_after_a_start_has_its_first_message_on_the_root(
    bridge_server: ServerProcess, tmp_path: Path
) -> None:
    """Right after the welcome, a new conversation's frames may come out of order (seq 2
    before seq 1): the root must still wait for the first message and show it."""
    created = create_bridge(bridge_server, "slack-first")
    slack = await FakeSlack().start()
    bridge = BridgeProcess(tmp_path / "bridge", bridge_server.url, created["token"], slack)
    try:
        await bridge.astart()
        ws = await new_visitor(bridge_server)
        conv = (await ws.send_and_ack(body="the very first"))["conv"]
        await ws.send_and_ack(conv=conv, body="and a second")
        await eventually(lambda: len(thread_bodies(slack, conv)) >= 2, what="the thread")
        root = slack.root_of(conv)
        assert root is not None and root.text.endswith(": the very first"), root.text
        assert thread_bodies(slack, conv) == ["the very first", "and a second"]
        await ws.close()
    finally:
        bridge.stop()
        await slack.stop()
