"""Transfers from Slack (BRIDGES.md §3, issue #13 items 2 and 4): ``!transfer <name>``
(agents, departments, ``@``/``#``, Slack mentions; unknown and ambiguous names answered
privately), the root's Transfer button opening a picker (``views.open``, then
``view_submission``), and a transfer to a department of another channel moving the
conversation to a new thread there, with a pointer left in the old one."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from bots.slack.render import INFO, PICKER_ACTION, PICKER_BLOCK
from tests.bridges.actions import AGENT_USER, linked_user, open_thread, say, thread_texts
from tests.bridges.conftest import Setup, create_bridge, steadydesk
from tests.bridges.support import CHANNEL, BridgeProcess, eventually
from tests.fakes.slack import FakeSlack, Posted
from tests.fakes.slack_payloads import selected
from tests.support import clients as C
from tests.support.http import http_client
from tests.support.server import ServerProcess

pytestmark = pytest.mark.asyncio(loop_scope="session")
SALES_CHANNEL = "C0SALES"


@dataclass
class Directory:
    sales: str  # department, posted in SALES_CHANNEL
    support: str  # department, posted in the default channel
    sales_agent: str  # an agent named like the department
    sams: list[str]  # two agents named Sam
    emails: dict[str, str]  # agent id -> e-mail


async def admin_call(
    server: ServerProcess, method: str, path: str, body: Any = None, **params: Any
) -> Any:
    assert server.demo is not None
    login = await C.cached_login(server, server.demo.admin)
    async with http_client(base_url=server.url) as http:
        resp = await http.request(
            method,
            path,
            json=body,
            params=params or None,
            headers={"Authorization": f"Bearer {login['token']}"},
        )
    assert resp.status_code in (200, 201), resp.text
    return resp.json()


async def new_agent(server: ServerProcess, name: str, email: str) -> str:
    body = {"email": email, "password": "transfer agent 1", "name": name}
    return str((await admin_call(server, "POST", "/api/v1/agents", body))["id"])


async def held_by(
    setup: Setup, conv: str, *, agent: str | None = None, department: str | None = None
) -> None:
    """Wait until the conversation is with ``agent`` (or waits in ``department``)."""
    deadline = time.monotonic() + 15
    while True:
        detail = await admin_call(setup.server, "GET", f"/api/v1/conversations/{conv}")
        holder = (detail.get("assignee") or {}).get("id")
        if (agent is None or holder == agent) and (
            department is None or detail.get("department") == department
        ):
            return
        assert time.monotonic() < deadline, f"{conv} is not held as expected: {detail}"
        await asyncio.sleep(0.1)


async def transfers_of(setup: Setup, conv: str) -> int:
    """How many transfers of ``conv`` the audit holds: each is audited by the transaction
    that moves the conversation, so a transfer seen is a transfer audited."""
    body = await admin_call(
        setup.server, "GET", "/api/v1/audit", action="conversation.transfer", target=conv
    )
    return len(body["entries"])


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(bridge_server: ServerProcess) -> Directory:
    server = bridge_server
    post = "POST"
    sales = (await admin_call(server, post, "/api/v1/departments", {"name": "Sales"}))["id"]
    support = (await admin_call(server, post, "/api/v1/departments", {"name": "Support"}))["id"]
    emails = {
        "sales-agent": "sales.person@example.com",
        "sam-1": "sam.one@example.com",
        "sam-2": "sam.two@example.com",
    }
    ids = {
        "sales-agent": await new_agent(server, "Sales", emails["sales-agent"]),
        "sam-1": await new_agent(server, "Sam", emails["sam-1"]),
        "sam-2": await new_agent(server, "Sam", emails["sam-2"]),
    }
    return Directory(
        sales,
        support,
        ids["sales-agent"],
        [ids["sam-1"], ids["sam-2"]],
        {ids[k]: v for k, v in emails.items()},
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def mapped(
    bridge_server: ServerProcess, world: Directory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Setup]:
    tmp = tmp_path_factory.mktemp("slack-transfer")
    slack = await FakeSlack().start()
    created = create_bridge(bridge_server, "slack-transfer")
    bridge = BridgeProcess(
        tmp,
        bridge_server.url,
        created["token"],
        slack,
        env={"SLACK_CHANNEL_MAP": json.dumps({world.sales: SALES_CHANNEL})},
    )
    await bridge.astart()
    yield Setup(bridge_server, slack, bridge, created["bridge_id"], tmp)
    bridge.stop()
    await slack.stop()


def told(setup: Setup, user: str = AGENT_USER) -> list[str]:
    return [e["text"] for e in setup.slack.ephemeral if e["user"] == user]


async def answer_to(setup: Setup, root: Posted, text: str) -> str:
    """Say ``text`` in the thread; the private answer it gets."""
    before = len(told(setup))
    await say(setup, root, text)
    answers = await eventually(lambda: told(setup)[before:], what=f"the answer to {text!r}")
    return answers[0]


async def test_unknown_and_ambiguous_names_are_answered_privately(
    mapped: Setup, world: Directory
) -> None:
    await linked_user(mapped)
    ws, _conv, root = await open_thread(mapped, "who can help?")
    unknown = await answer_to(mapped, root, "!transfer Nobody Here")
    assert unknown.startswith("No agent or department is named 'Nobody Here'.")
    assert "Sales, Support" in unknown and "Sam" in unknown
    both = await answer_to(mapped, root, "!transfer sales")
    assert "the department Sales" in both and "sales.person@example.com" in both
    assert "@name" in both and "#name" in both
    sams = await answer_to(mapped, root, "!transfer Sam")
    assert "sam.one@example.com" in sams and "sam.two@example.com" in sams
    stranger = mapped.slack.user_message(root.channel, root.ts, "U0STRANGER", "!transfer Sam")
    await mapped.slack.post_event(mapped.bridge.events_url, mapped.slack.message_event(stranger))
    tip = await eventually(lambda: told(mapped, "U0STRANGER"), what="the how-to-link")
    assert "/steady link" in tip[0]
    # Nothing of this reaches the visitor, and nothing was transferred.
    await ws.expect_no_frame(
        lambda f: f.get("seq", 0) > 1 or f.get("name") == "conv.transferred", 0.5
    )
    assert not any("Transferred" in t for t in thread_texts(mapped.slack, _conv))
    await ws.close()


async def test_transfer_by_name_email_at_name_and_slack_mention(
    mapped: Setup, world: Directory
) -> None:
    await linked_user(mapped)
    await linked_user(mapped, user="U0SECOND", account=1)
    assert mapped.server.demo is not None
    second = await C.cached_login(mapped.server, mapped.server.demo.agents[1])
    ws, conv, root = await open_thread(mapped, "transfer me around")
    await say(mapped, root, "!transfer @Sales")  # the agent, not the department
    await held_by(mapped, conv, agent=world.sales_agent)
    await say(mapped, root, f"!transfer {world.emails[world.sams[1]]}")
    await held_by(mapped, conv, agent=world.sams[1])
    await say(mapped, root, "!transfer <@U0SECOND>")  # Slack's form of a typed @mention
    await held_by(mapped, conv, agent=second["agent"]["id"])
    await say(mapped, root, "!transfer support")  # a department of this same channel
    await held_by(mapped, conv, department=world.support)
    await eventually(
        lambda: f"{INFO} Transferred to Support." in thread_texts(mapped.slack, conv),
        what="the notice naming the department",
    )
    texts = [t for t in thread_texts(mapped.slack, conv) if "Transferred" in t]
    assert texts == [
        f"{INFO} Transferred to Sales.",
        f"{INFO} Transferred to Sam.",
        f"{INFO} Transferred to {second['agent']['name']}.",
        f"{INFO} Transferred to Support.",
    ]
    assert len(mapped.slack.roots(SALES_CHANNEL)) == 0  # Support is not moved
    await ws.close()


async def test_the_transfer_button_opens_a_picker_and_its_submission_transfers(
    mapped: Setup, world: Directory
) -> None:
    assert mapped.server.demo is not None
    await linked_user(mapped)
    online = await C.cached_login(mapped.server, mapped.server.demo.agents[1])
    console = await C.WsClient.connect(mapped.server.ws_url + "/ws/agent", label="console")
    await console.hello(online["token"])
    await console.send_json({"type": "status", "state": "online"})
    await console.recv_until(lambda f: f.get("name") == "agent.status")
    ws, conv, root = await open_thread(mapped, "pick someone")

    async def press(user: str) -> None:
        payload = mapped.slack.button_payload(conv, "steady_transfer", user, root.channel, root.ts)
        status, _ = await mapped.slack.post_interaction(mapped.bridge.events_url, payload)
        assert status == 200

    await press("U0STRANGER")  # not linked: told how, no modal
    tip = await eventually(lambda: told(mapped, "U0STRANGER"), what="the how-to-link")
    assert "/steady link" in tip[0] and mapped.slack.views == []

    await press(AGENT_USER)
    view = await eventually(lambda: mapped.slack.views[-1:], what="the picker")
    select = view[0]["blocks"][0]["element"]
    groups = {g["label"]["text"]: g["options"] for g in select["option_groups"]}
    assert [o["text"]["text"] for o in groups["Departments"]] == ["Sales", "Support"]
    agents = [o["text"]["text"] for o in groups["Agents"]]
    assert agents[0] == f"🟢 {online['agent']['name']} · online"  # online first
    assert any(text.startswith("⚪ Sam · offline") for text in agents)
    option = next(o for o in groups["Agents"] if online["agent"]["name"] in o["text"]["text"])

    submission = mapped.slack.view_submission(
        view[0], AGENT_USER, {PICKER_BLOCK: {PICKER_ACTION: selected(option)}}
    )
    for _ in range(2):  # the same submission twice transfers once
        status, body = await mapped.slack.post_interaction(mapped.bridge.events_url, submission)
        assert status == 200 and "errors" not in body
    await held_by(mapped, conv, agent=online["agent"]["id"])
    await eventually(
        lambda: (
            f"{INFO} Transferred to {online['agent']['name']}." in thread_texts(mapped.slack, conv)
        ),
        what="the notice",
    )
    assert await transfers_of(mapped, conv) == 1
    await console.close()
    await ws.close()


async def test_a_transfer_to_a_department_of_another_channel_moves_the_thread(
    mapped: Setup, world: Directory
) -> None:
    await linked_user(mapped)
    ws, conv, root = await open_thread(mapped, "I want to buy", name="Buyer")
    await ws.send_and_ack(conv=conv, body="a lot")
    await eventually(lambda: "a lot" in thread_texts(mapped.slack, conv), what="a lot")
    await say(mapped, root, "!transfer #sales")
    new_root = await eventually(
        lambda: mapped.slack.roots(SALES_CHANNEL)[-1:], what="the thread in #sales"
    )
    new = new_root[0]
    assert "Transferred conversation with Buyer" in str(new.blocks)
    assert "Transferred from <https://" in str(new.blocks) and f"<#{CHANNEL}>" in str(new.blocks)
    old = await eventually(
        lambda: [m for m in mapped.slack.thread(root.channel, root.ts) if "continues" in m.text],
        what="the pointer in the old thread",
    )
    assert f"<#{SALES_CHANNEL}>" in old[0].text and "steady.slack.test/archives" in old[0].text
    assert old[0].args.get("mrkdwn") in (True, "true", "1")

    # The conversation goes on in the new thread, both ways, also after a restart.
    await ws.send_and_ack(conv=conv, body="still there?")
    await eventually(
        lambda: "still there?" in [m.text for m in mapped.slack.thread(SALES_CHANNEL, new.ts)],
        what="the visitor in the new thread",
    )
    await say(mapped, new, "yes, sales here")
    await ws.recv_until(lambda f: f["type"] == "message" and f["body"] == "yes, sales here")
    mapped.bridge.kill9()
    await mapped.bridge.astart()
    await ws.send_and_ack(conv=conv, body="after a restart")
    await eventually(
        lambda: "after a restart" in [m.text for m in mapped.slack.thread(SALES_CHANNEL, new.ts)],
        what="a message after the restart",
    )
    # A reply in the old thread is not sent: its author is told where to go.
    before = len(told(mapped))
    await say(mapped, root, "answering in the old place")
    moved = await eventually(lambda: told(mapped)[before:], what="where it went")
    assert "another thread" in moved[0] and "steady.slack.test/archives" in moved[0]
    history = [m["body"] for m in await ws.history(conv)]
    assert "answering in the old place" not in history
    assert history == [
        "I want to buy",
        "a lot",
        "still there?",
        "yes, sales here",
        "after a restart",
    ]
    old_texts = [m.text for m in mapped.slack.thread(root.channel, root.ts) if m.bot_id]
    assert old_texts == ["a lot", f"{INFO} Transferred to Sales.", old[0].text]
    new_texts = [m.text for m in mapped.slack.thread(SALES_CHANNEL, new.ts) if m.bot_id]
    assert new_texts == ["still there?", "after a restart"]
    assert len(mapped.slack.roots(SALES_CHANNEL)) == 1
    await ws.close()


async def test_a_transfer_out_of_a_department_bridges_scope_is_said_and_let_go(
    mapped: Setup, world: Directory
) -> None:
    """A bridge for Support only: a conversation transferred to Sales is no longer its
    to mirror (the server sends nothing more of it); the thread says so, once, and the
    bridge stops resuming it (no refusal after a restart, nothing posted twice)."""
    server = mapped.server
    assert server.demo is not None
    created = json.loads(
        steadydesk(
            server,
            *("bridge", "create", "--tenant", server.demo.tenant, "--kind", "slack"),
            *("--name", "support-only", "--department", world.support, "--json"),
        )
    )
    slack = await FakeSlack().start()
    bridge = BridgeProcess(mapped.tmp / "scoped", server.url, created["token"], slack)
    scoped = Setup(server, slack, bridge, created["bridge_id"], mapped.tmp)
    agent: C.WsClient | None = None
    try:
        await bridge.astart()
        ws, conv, _root = await open_thread(scoped, "support please", department=world.support)
        await ws.send_and_ack(conv=conv, body="in support")
        login = await C.cached_login(server, server.demo.agents[0])
        # Connected only now: the server closes a socket that says no hello in 5 s (4408),
        # and starting the bridge takes longer than that on a busy machine.
        agent = await C.WsClient.connect(server.ws_url + "/ws/agent", label="agent")
        await agent.hello(login["token"])
        await agent.send_json({"type": "transfer", "conv": conv, "to_department": world.sales})
        await held_by(mapped, conv, department=world.sales)
        gone = f"{INFO} Sales is outside this bridge's departments: it goes on there."
        await eventually(lambda: gone in thread_texts(slack, conv), what="the notice")
        await ws.send_and_ack(conv=conv, body="now in sales")
        bridge.kill9()
        await bridge.astart()
        await ws.send_and_ack(conv=conv, body="still in sales")
        await asyncio.sleep(1.0)  # what would arrive, arrives in this time
        assert thread_texts(slack, conv) == ["in support", f"{INFO} Transferred to Sales.", gone]
        assert "error" not in bridge.log_tail(200).lower()
        await ws.close()
    finally:
        if agent is not None:
            await agent.close()
        bridge.stop()
        await slack.stop()
