"""PROTOCOL §4 denials: nobody sees or touches what is not theirs.

Each refusal is `error forbidden` naming the conv (or cid) it concerns, nothing of the
foreign conversation is sent then or later, and the connection stays usable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import pytest_asyncio

from tests.protocol.conftest import Chat
from tests.support.clients import Clients, Frame, WsClient, new_cid, open_conversation
from tests.support.server import DemoTenant, ServerProcess


def is_forbidden_about(frame: Frame, conv: str, cid: str | None = None) -> bool:
    return (frame["type"] == "error" and frame.get("code") == "forbidden"
            and (frame.get("conv") == conv or (cid is not None and frame.get("cid") == cid)))


def foreign_frame(kind: str, conv: str, cid: str, to_agent: str = "") -> dict[str, object]:
    frames: dict[str, dict[str, object]] = {
        "send": {"type": "send", "conv": conv, "cid": cid, "body": "let me in"},
        "sync": {"type": "sync", "conv": conv, "after": 0, "limit": 100},
        "typing": {"type": "typing", "conv": conv, "on": True},
        "read": {"type": "read", "conv": conv, "seq": 1},
        "close": {"type": "close", "conv": conv},
        "accept": {"type": "accept", "conv": conv},
        "transfer": {"type": "transfer", "conv": conv, "to_agent": to_agent},
    }
    return frames[kind]


async def assert_nothing_of(intruder: WsClient, victim: Chat, allowed: int = 1) -> None:
    """Live traffic of the victim's conversation never reaches the intruder, and the
    intruder got no frame about it except the ``allowed`` refusal(s)."""
    ack = await victim.agent.send_and_ack("private reply", victim.conv)
    await victim.visitor.recv_type("message", cid=ack["cid"])  # delivered by now
    await intruder.ping_pong()
    about = intruder.frames_about(victim.conv)
    refusals = [f for f in about if is_forbidden_about(f, victim.conv) or f["type"] == "error"]
    leaks = [f for f in about if f not in refusals]
    assert not leaks, f"{intruder.label} received frames of a foreign conversation: {leaks}"
    assert len(refusals) <= allowed, refusals
    assert "private reply" not in json.dumps(intruder.log)


async def refusal(intruder: WsClient, conv: str, cid: str | None = None) -> Frame:
    frame = await intruder.recv_until(
        lambda f: f["type"] == "error" and (f.get("conv") == conv or (
            cid is not None and f.get("cid") == cid)),
        what=f"error forbidden about {conv}",
    )
    assert frame.get("code") == "forbidden", frame
    return frame


# ------------------------------------------------------------------------ visitors


async def test_visitor_cannot_send_a_note(chat: Chat) -> None:
    cid = await chat.visitor.send_message("pretend I'm staff", chat.conv, kind="note")
    err = await chat.visitor.wait_ack(cid)
    assert err["type"] == "error" and err["code"] == "forbidden", err
    assert err.get("cid") == cid
    await chat.visitor.ping_pong()
    history = await chat.agent.history(chat.conv)
    assert cid not in [m["cid"] for m in history]
    await chat.visitor.send_and_ack("still here", chat.conv)  # connection stays usable


@pytest.mark.parametrize("kind", ["send", "sync", "typing", "read", "close"])
async def test_visitor_naming_another_visitors_conversation_is_forbidden(
    server: ServerProcess, chat: Chat, clients: Clients, kind: str,
) -> None:
    intruder = await clients.visitor(server, label="intruder")
    own = await intruder.send_and_ack("my own question")
    cid = new_cid()
    await intruder.send_json(foreign_frame(kind, chat.conv, cid))
    await refusal(intruder, chat.conv, cid if kind == "send" else None)
    await assert_nothing_of(intruder, chat)
    # The victim's conversation is untouched: still open, nothing added, no typing/read.
    history = await chat.agent.history(chat.conv)
    assert cid not in [m["cid"] for m in history]
    await chat.visitor.send_and_ack("victim still chatting", chat.conv)
    await chat.agent.ping_pong()
    intruder_id = intruder.session["visitor_id"]
    assert not [f for f in chat.agent.log
                if f["type"] in ("typing", "read") and f.get("sender", {}).get("id") == intruder_id]
    # And the intruder's own conversation still works.
    await intruder.send_and_ack("back to my own business", own["conv"])


async def test_visitor_resuming_another_visitors_conversation_is_forbidden(
    server: ServerProcess, chat: Chat, clients: Clients,
) -> None:
    await chat.visitor.send_and_ack("my address is 1 Secret Lane", chat.conv)
    intruder = await clients.visitor(server, label="intruder", resume={chat.conv: 0})
    await refusal(intruder, chat.conv)
    assert not [f for f in intruder.log if f["type"] == "message"]
    await assert_nothing_of(intruder, chat)
    assert "Secret Lane" not in json.dumps(intruder.log)


async def test_resume_gives_own_conversation_and_refuses_the_foreign_one(
    server: ServerProcess, chat: Chat, clients: Clients,
) -> None:
    first = await clients.visitor(server, label="intruder")
    mine = await first.send_and_ack("mine")
    intruder = await clients.visitor(server, session=first.session, label="intruder-2",
                                     resume={mine["conv"]: 0, chat.conv: 0})
    await intruder.recv_type("message", cid=mine["cid"])
    await refusal(intruder, chat.conv)
    await assert_nothing_of(intruder, chat)


@pytest.mark.parametrize("kind", ["accept", "status", "transfer"])
async def test_visitor_sending_agent_only_frames_is_forbidden(
    server: ServerProcess, demo: DemoTenant, clients: Clients, kind: str,
) -> None:
    agent = await clients.agent(server, demo.agents[0])
    visitor = await clients.visitor(server)
    ack = await visitor.send_and_ack("hello")
    conv = ack["conv"]
    await agent.recv_event("conv.queued", conv)
    if kind == "status":
        await visitor.send_json({"type": "status", "state": "online"})
        err = await visitor.recv_type("error")
    else:
        await visitor.send_json(foreign_frame(kind, conv, new_cid(),
                                              to_agent=agent.login["agent"]["id"]))
        err = await visitor.recv_type("error", conv=conv)
    assert err["code"] == "forbidden", err
    await visitor.ping_pong()
    # Nothing happened: the conversation is still waiting for an agent.
    assert not [f for f in visitor.log + agent.log
                if f["type"] == "event" and f.get("conv") == conv
                and f.get("name") in ("conv.assigned", "conv.transferred")]
    assert not [f for f in visitor.log if f.get("name") == "agent.status"]
    await agent.send_json({"type": "accept", "conv": conv})
    await agent.recv_event("conv.assigned", conv)
    await visitor.send_and_ack("connection still usable", conv)


async def test_visitor_never_receives_an_agents_note(server: ServerProcess, chat: Chat,
                                                     clients: Clients) -> None:
    secret = f"internal note {new_cid()}: refund fraud suspected"
    note = await chat.agent.send_and_ack(secret, chat.conv, kind="note")
    own = await chat.agent.recv_type("message", cid=note["cid"])
    assert own["kind"] == "note" and own["seq"] == note["seq"]
    later = await chat.visitor.send_and_ack("any news?", chat.conv)
    assert later["seq"] > note["seq"]  # the note took a seq of the same stream
    await chat.visitor.recv_type("message", cid=later["cid"])
    visible = await chat.visitor.history(chat.conv)
    assert note["seq"] not in [m["seq"] for m in visible]
    assert later["seq"] in [m["seq"] for m in visible]
    full = await chat.agent.history(chat.conv)
    assert note["seq"] in [m["seq"] for m in full]
    # A reconnect resuming from before the note replays around it.
    tab = await clients.visitor(server, session=chat.visitor.session,
                                resume={chat.conv: note["seq"] - 1})
    await tab.recv_type("message", cid=later["cid"])
    for client in (chat.visitor, tab):
        await client.ping_pong()
        assert secret not in json.dumps(client.log), f"{client.label} saw the note"
        assert note["seq"] not in client.message_seqs(chat.conv)


# ------------------------------------------------------------------------ tenants


@dataclass
class ForeignChat:
    chat: Chat  # in tenant B
    tenant: DemoTenant


@pytest_asyncio.fixture
async def foreign_chat(server: ServerProcess, other_tenant: DemoTenant,
                       clients: Clients) -> ForeignChat:
    visitor = await clients.visitor(server, demo=other_tenant, label="B-visitor")
    agent = await clients.agent(server, other_tenant.agents[0], demo=other_tenant,
                                label="B-agent")
    conv = await open_conversation(visitor, agent, body="tenant B customer here")
    return ForeignChat(Chat(visitor, agent, conv), other_tenant)


@pytest.mark.parametrize("account", ["agent", "admin"])
@pytest.mark.parametrize("kind", ["send", "sync", "accept", "typing", "read", "close",
                                  "transfer"])
async def test_agent_naming_another_tenants_conversation_is_forbidden(
    server: ServerProcess, demo: DemoTenant, clients: Clients, foreign_chat: ForeignChat,
    kind: str, account: str,
) -> None:
    intruder = await clients.agent(
        server, demo.admin if account == "admin" else demo.agents[0], label=f"A-{account}")
    victim = foreign_chat.chat
    cid = new_cid()
    await intruder.send_json(foreign_frame(kind, victim.conv, cid,
                                           to_agent=intruder.login["agent"]["id"]))
    await refusal(intruder, victim.conv, cid if kind == "send" else None)
    await assert_nothing_of(intruder, victim)
    history = await victim.agent.history(victim.conv)
    assert cid not in [m["cid"] for m in history]
    assert "tenant B customer here" not in json.dumps(intruder.log)
    # Tenant B's conversation goes on as before.
    ack = await victim.visitor.send_and_ack("still talking to B", victim.conv)
    await victim.agent.recv_type("message", cid=ack["cid"])


@pytest.mark.parametrize("account", ["agent", "admin"])
async def test_agent_resuming_another_tenants_conversation_is_forbidden(
    server: ServerProcess, demo: DemoTenant, clients: Clients, foreign_chat: ForeignChat,
    account: str,
) -> None:
    victim = foreign_chat.chat
    intruder = await clients.agent(
        server, demo.admin if account == "admin" else demo.agents[0],
        resume={victim.conv: 0}, label=f"A-{account}")
    await refusal(intruder, victim.conv)
    assert not [f for f in intruder.log if f["type"] == "message"]
    await assert_nothing_of(intruder, victim)


async def test_agents_never_hear_of_another_tenants_conversations(
    server: ServerProcess, demo: DemoTenant, other_tenant: DemoTenant, clients: Clients,
) -> None:
    ours = await clients.agent(server, demo.admin, label="A-admin")
    theirs = await clients.agent(server, other_tenant.agents[0], demo=other_tenant,
                                 label="B-agent")
    visitor = await clients.visitor(server, demo=other_tenant, label="B-visitor")
    ack = await visitor.send_and_ack("tenant B only")
    await theirs.recv_event("conv.queued", ack["conv"])
    await ours.ping_pong()
    assert not ours.frames_about(ack["conv"]), "tenant A's admin heard of tenant B's conv"
    assert "tenant B only" not in json.dumps(ours.log)


async def test_visitor_of_one_tenant_cannot_name_another_tenants_conversation(
    server: ServerProcess, clients: Clients, foreign_chat: ForeignChat,
) -> None:
    intruder = await clients.visitor(server, label="A-visitor")
    cid = new_cid()
    await intruder.send_json(foreign_frame("send", foreign_chat.chat.conv, cid))
    await refusal(intruder, foreign_chat.chat.conv, cid)
    await assert_nothing_of(intruder, foreign_chat.chat)
