"""What the bridge suite's users do: visitors write, agents link themselves and answer in
Slack threads; and how a thread reads back from the local Slack."""

from __future__ import annotations

from typing import Any

from bots.slack.render import INFO
from tests.bridges.conftest import Setup, link_code
from tests.bridges.support import CHANNEL, eventually
from tests.fakes.slack import FakeSlack, Posted
from tests.support import clients as C
from tests.support.http import http_client
from tests.support.server import ServerProcess

AGENT_USER = "U0AGENT1"
GREETING = "How can we help?"


async def greeting_site(server: ServerProcess, greeting: str = GREETING) -> str:
    """A new site of the demo tenant that greets every new conversation (the server stores
    the greeting at seq 1, before the visitor's first message); its site key. The same
    words in and out of hours, so the greeting does not depend on who is online."""
    assert server.demo is not None
    login = await C.cached_login(server, server.demo.admin)
    headers = {"Authorization": f"Bearer {login['token']}"}
    async with http_client(base_url=server.url + "/api/v1", headers=headers) as http:
        created = await http.post("/sites", json={"name": "Greeting shop"})
        assert created.status_code == 201, created.text
        site: str = created.json()["site_key"]
        hours = {"hours": None, "welcome_message": greeting, "after_hours_message": greeting}
        saved = await http.put(f"/sites/{site}/hours", json=hours)
        assert saved.status_code == 200, saved.text
    return site


async def visitor(setup: Setup, **fields: Any) -> tuple[C.WsClient, dict[str, Any]]:
    session = await C.new_visitor(setup.server, **fields)
    ws = await C.WsClient.connect(setup.server.ws_url + "/ws/visitor", label="visitor")
    await ws.hello(session["token"])
    return ws, session


async def open_thread(
    setup: Setup, first: str = "Hello", **fields: Any
) -> tuple[C.WsClient, str, Posted]:
    ws, _ = await visitor(setup, **fields)
    conv = (await ws.send_and_ack(body=first))["conv"]
    root = await eventually(lambda: setup.slack.root_of(conv), what="the thread's root")
    return ws, conv, root


def thread_texts(slack: FakeSlack, conv: str) -> list[str]:
    return [m.text for m in slack.bot_thread(conv)]


async def linked_user(setup: Setup, user: str = AGENT_USER, account: int = 0) -> str:
    """Link a Slack user to a demo agent the way an agent would: code, then /steady link."""
    assert setup.server.demo is not None
    email = setup.server.demo.agents[account].email
    code = link_code(setup.server, email)
    status, body = await setup.slack.post_form(
        setup.bridge.events_url, setup.slack.command_fields(f"link {code}", user, CHANNEL)
    )
    assert status == 200 and "Linked" in body, body
    return email


async def say(setup: Setup, root: Posted, text: str, user: str = AGENT_USER) -> Posted:
    posted = setup.slack.user_message(root.channel, root.ts, user, text)
    status, _ = await setup.slack.post_event(
        setup.bridge.events_url, setup.slack.message_event(posted)
    )
    assert status == 200
    return posted


def thread_bodies(slack: FakeSlack, conv: str) -> list[str]:
    """The conversation as the thread shows it: the root's first message, then each post."""
    root = slack.root_of(conv)
    if root is None:
        return []
    first = root.text.split(": ", 1)[1] if ": " in root.text else ""
    return ([first] if first else []) + [m.text for m in slack.bot_thread(conv)]


def thread_for(history: list[dict[str, Any]]) -> list[str]:
    """What a conversation's Slack thread must show (root's first message, then every
    post; notices aside), given its stored history: each message once, in seq order,
    except the replies written in Slack itself (their cid says so), which are there as
    their authors wrote them."""
    shown = []
    for message in sorted(history, key=lambda m: m["seq"]):
        if str(message.get("cid") or "").startswith("slack:"):
            continue
        sender = message["sender"]
        if message.get("kind") == "note":
            shown.append(f"📝 note ({sender['name']}): {message['body']}")
        elif sender["type"] == "agent":
            shown.append(f"{sender['name']}: {message['body']}")
        else:
            shown.append(message["body"])
    return shown


def without_notices(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith(INFO)]
