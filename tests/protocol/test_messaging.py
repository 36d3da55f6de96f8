"""PROTOCOL §4 client frames that succeed: send/ack, message fan-out, idempotency,
sync/batch, typing, read, ping, accept, transfer, close, status."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any

import pytest
import pytest_asyncio

from tests.protocol.conftest import Chat
from tests.support.clients import (
    TS_RE,
    Clients,
    Frame,
    WsClient,
    new_cid,
    open_conversation,
    send_pipelined,
    visitor_session,
)
from tests.support.server import DemoTenant, ServerFactory, ServerProcess

MESSAGE_FIELDS = ("conv", "id", "seq", "ts", "kind", "body", "html", "cid", "sender")


def assert_message(frame: Frame, *, conv: str, cid: str, body: str, sender: WsClient,
                   kind: str = "text") -> None:
    assert frame["type"] == "message", frame
    assert set(MESSAGE_FIELDS) <= set(frame), f"message lacks fields: {frame}"
    assert frame["conv"] == conv
    assert frame["cid"] == cid
    assert frame["body"] == body
    assert frame["kind"] == kind
    assert isinstance(frame["seq"], int) and frame["seq"] >= 1
    assert frame["id"] not in (None, "")
    assert TS_RE.match(frame["ts"]), f"ts not ISO 8601 UTC with ms: {frame['ts']!r}"
    assert isinstance(frame["html"], str)
    assert sender.welcome is not None
    you = sender.welcome["you"]
    assert frame["sender"]["type"] == you["type"]
    assert frame["sender"]["id"] == you["id"]
    assert "name" in frame["sender"]


def assert_ack(ack: Frame, *, cid: str, conv: str | None = None) -> None:
    assert ack["type"] == "ack", ack
    assert ack["cid"] == cid
    assert isinstance(ack["conv"], str) and ack["conv"]
    if conv is not None:
        assert ack["conv"] == conv
    assert isinstance(ack["seq"], int) and ack["seq"] >= 1
    assert ack["id"] not in (None, "")
    assert TS_RE.match(ack["ts"]), f"ts not ISO 8601 UTC with ms: {ack['ts']!r}"


async def message_with_cid(client: WsClient, cid: str) -> Frame:
    return await client.recv_type("message", cid=cid)


# ------------------------------------------------------------------------ send / ack


async def test_ack_carries_cid_conv_id_seq_and_ts(server: ServerProcess,
                                                  clients: Clients) -> None:
    visitor = await clients.visitor(server)
    cid = new_cid()
    ack = await visitor.send_and_ack("Hi, is anyone there?", cid=cid)
    assert_ack(ack, cid=cid)


async def test_visitor_without_conv_opens_one_conversation_and_keeps_using_it(
    server: ServerProcess, clients: Clients,
) -> None:
    visitor = await clients.visitor(server)
    first = await visitor.send_and_ack("first")
    second = await visitor.send_and_ack("second")
    assert second["conv"] == first["conv"]
    assert second["seq"] > first["seq"]
    history = await visitor.history(first["conv"])
    assert [m["seq"] for m in history] == list(range(1, len(history) + 1))
    assert [m["cid"] for m in history if m["cid"] in (first["cid"], second["cid"])] == [
        first["cid"], second["cid"]]


async def test_agents_get_conv_queued_with_the_first_messages(
    server: ServerProcess, demo: DemoTenant, clients: Clients,
) -> None:
    agent = await clients.agent(server, demo.agents[0])
    admin = await clients.agent(server, demo.admin)
    visitor = await clients.visitor(server)
    body = f"my parcel {new_cid()} never arrived"
    ack = await visitor.send_and_ack(body)
    for who in (agent, admin):
        event = await who.recv_event("conv.queued", ack["conv"])
        assert body in json.dumps(event.get("data")), f"queued event lacks the message: {event}"


async def test_accept_sends_conv_assigned_to_agent_and_visitor(
    server: ServerProcess, demo: DemoTenant, clients: Clients,
) -> None:
    agent = await clients.agent(server, demo.agents[0])
    visitor = await clients.visitor(server)
    ack = await visitor.send_and_ack("hello")
    await agent.recv_event("conv.queued", ack["conv"])
    await agent.send_json({"type": "accept", "conv": ack["conv"]})
    assigned = await agent.recv_event("conv.assigned", ack["conv"])
    assert assigned["conv"] == ack["conv"]
    await visitor.recv_event("conv.assigned", ack["conv"])


async def test_messages_flow_both_ways_with_sender_and_html(chat: Chat) -> None:
    cid = await chat.visitor.send_message("Where is my order #42?", chat.conv)
    ack = await chat.visitor.wait_ack(cid)
    assert_ack(ack, cid=cid, conv=chat.conv)
    at_agent = await message_with_cid(chat.agent, cid)
    assert_message(at_agent, conv=chat.conv, cid=cid, body="Where is my order #42?",
                   sender=chat.visitor)
    assert (at_agent["id"], at_agent["seq"], at_agent["ts"]) == (ack["id"], ack["seq"], ack["ts"])

    cid = await chat.agent.send_message("It ships today.", chat.conv)
    ack = await chat.agent.wait_ack(cid)
    assert_ack(ack, cid=cid, conv=chat.conv)
    at_visitor = await message_with_cid(chat.visitor, cid)
    assert_message(at_visitor, conv=chat.conv, cid=cid, body="It ships today.",
                   sender=chat.agent)
    assert (at_visitor["id"], at_visitor["seq"]) == (ack["id"], ack["seq"])


async def test_senders_own_connection_also_receives_its_message(chat: Chat) -> None:
    for sender in (chat.visitor, chat.agent):
        cid = await sender.send_message("echo to myself", chat.conv)
        ack = await sender.wait_ack(cid)
        own = await message_with_cid(sender, cid)
        assert (own["id"], own["seq"]) == (ack["id"], ack["seq"])


async def test_second_visitor_tab_receives_every_message(server: ServerProcess, chat: Chat,
                                                         clients: Clients) -> None:
    tab2 = await clients.visitor(server, session=chat.visitor.session)
    from_agent = await chat.agent.send_message("for both tabs", chat.conv)
    from_tab1 = await chat.visitor.send_message("typed in tab 1", chat.conv)
    for cid in (from_agent, from_tab1):
        one = await message_with_cid(chat.visitor, cid)
        two = await message_with_cid(tab2, cid)
        assert (one["id"], one["seq"]) == (two["id"], two["seq"])


async def test_second_agent_connection_receives_every_message(
    server: ServerProcess, chat: Chat, clients: Clients,
) -> None:
    device2 = await clients.agent(server, login_data=chat.agent.login)
    cid = await chat.visitor.send_message("for both agent devices", chat.conv)
    await message_with_cid(chat.agent, cid)
    await message_with_cid(device2, cid)


class _HtmlFacts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def html_facts(html: str) -> _HtmlFacts:
    parser = _HtmlFacts()
    parser.feed(html)
    parser.close()
    return parser


async def test_body_is_stored_exactly_and_html_is_escaped_with_safe_links(chat: Chat) -> None:
    body = ('<b>bold?</b> <script>alert(1)</script> <img src=x onerror=alert(2)>\n'
            'see https://example.com/track?a=1&b=2 or javascript:alert(3) — ünïcödé 😀')
    cid = await chat.visitor.send_message(body, chat.conv)
    msg = await message_with_cid(chat.agent, cid)
    assert msg["body"] == body  # plain text, stored exactly, not refused for markup
    facts = html_facts(msg["html"])
    for tag, attrs in facts.tags:
        assert tag in ("a", "br", "p", "span"), f"unexpected tag {tag!r} in {msg['html']!r}"
        assert not [a for a in attrs if a.startswith("on")], f"event handler in {msg['html']!r}"
    links = [attrs for tag, attrs in facts.tags if tag == "a"]
    assert links, f"the URL was not made clickable: {msg['html']!r}"
    for attrs in links:
        href = attrs.get("href") or ""
        assert href.startswith(("https://", "http://", "mailto:")), href
        assert set((attrs.get("rel") or "").split()) >= {"nofollow", "noopener"}, attrs
        assert attrs.get("target") == "_blank", attrs
    assert any("example.com/track" in (a.get("href") or "") for a in links)
    shown = "".join(facts.text)
    assert "<script>alert(1)</script>" in shown  # markup is shown as text
    assert "<b>bold?</b>" in shown


async def test_client_supplied_sender_seq_and_ts_are_not_believed(chat: Chat) -> None:
    cid = new_cid()
    await chat.visitor.send_json({
        "type": "send", "conv": chat.conv, "cid": cid, "body": "spoof?",
        "sender": {"type": "agent", "id": chat.agent.login["agent"]["id"], "name": "Boss"},
        "seq": 999_999, "ts": "2000-01-01T00:00:00.000Z", "id": "forged-id",
        "tenant": "someone-else", "kind": "text",
    })
    frame = await chat.visitor.wait_ack(cid)
    if frame["type"] == "error":  # rejecting the frame is fine too
        return
    msg = await message_with_cid(chat.agent, cid)
    assert msg["sender"]["type"] == "visitor"
    assert msg["sender"]["id"] == chat.visitor.session["visitor_id"]
    assert msg["seq"] != 999_999 and msg["seq"] == frame["seq"]
    assert not msg["ts"].startswith("2000-")
    assert msg["id"] != "forged-id"


# ------------------------------------------------------------------------ idempotency


async def test_same_cid_resent_returns_the_same_ack_and_one_message(chat: Chat) -> None:
    cid = new_cid()
    first = await chat.visitor.send_and_ack("only once please", chat.conv, cid=cid)
    again = await chat.visitor.send_and_ack("only once please", chat.conv, cid=cid)
    assert (again["id"], again["seq"], again["conv"]) == (first["id"], first["seq"], first["conv"])
    await message_with_cid(chat.agent, cid)
    await chat.agent.expect_no_frame(lambda f: f["type"] == "message" and f.get("cid") == cid,
                                     within=0.5)
    history = await chat.agent.history(chat.conv)
    assert [m["seq"] for m in history if m["cid"] == cid] == [first["seq"]]


async def test_same_cid_resent_with_another_body_changes_nothing(chat: Chat) -> None:
    cid = new_cid()
    first = await chat.visitor.send_and_ack("original text", chat.conv, cid=cid)
    again = await chat.visitor.send_and_ack("edited text", chat.conv, cid=cid)
    assert (again["id"], again["seq"]) == (first["id"], first["seq"])
    history = await chat.agent.history(chat.conv, after=first["seq"] - 1)
    stored = [m for m in history if m["cid"] == cid]
    assert [m["body"] for m in stored] == ["original text"]


async def test_same_cid_from_another_sender_is_another_message(chat: Chat) -> None:
    cid = new_cid()
    mine = await chat.visitor.send_and_ack("from the visitor", chat.conv, cid=cid)
    theirs = await chat.agent.send_and_ack("from the agent", chat.conv, cid=cid)
    assert theirs["id"] != mine["id"] and theirs["seq"] != mine["seq"]


async def test_pipelined_sends_from_one_connection_keep_their_order(chat: Chat) -> None:
    """TCP delivers a connection's frames in order; the stream must not reorder them
    (a visitor typing "hi" then "where is my order?" must not see them swapped)."""
    for sender in (chat.visitor, chat.agent):
        cids = [await sender.send_message(f"part {i}", chat.conv) for i in range(100)]
        acks = [await sender.wait_ack(cid) for cid in cids]
        seqs = [ack["seq"] for ack in acks]
        assert seqs == sorted(seqs), f"{sender.label}: seqs in send order were {seqs}"


async def test_pipelined_first_sends_without_conv_land_in_one_conversation_in_order(
    server: ServerProcess, clients: Clients,
) -> None:
    """A new visitor's sends name no conversation: the first opens one while the next
    wait behind it, later ones find it at once; one conversation, in the order sent."""
    visitor = await clients.visitor(server)
    cids = [await visitor.send_message(f"part {i}") for i in range(30)]
    acks = [await visitor.wait_ack(cid) for cid in cids]
    assert all(ack["type"] == "ack" for ack in acks), [a for a in acks if a["type"] != "ack"]
    assert len({ack["conv"] for ack in acks}) == 1, {ack["conv"] for ack in acks}
    seqs = [ack["seq"] for ack in acks]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs


# ------------------------------------------------------------------------ sync / batch


async def test_sync_pages_with_after_limit_and_has_more(chat: Chat) -> None:
    await send_pipelined(chat.visitor, chat.conv, 11)
    history = await chat.visitor.history(chat.conv)
    total = len(history)
    assert total >= 12
    assert [m["seq"] for m in history] == list(range(1, total + 1))
    seen: list[int] = []
    after = 0
    for _ in range(total):
        batch = await chat.visitor.sync(chat.conv, after=after, limit=5)
        assert batch["type"] == "batch" and batch["conv"] == chat.conv
        page = [m["seq"] for m in batch["messages"]]
        assert page == list(range(after + 1, min(after + 5, total) + 1))
        seen += page
        assert batch["has_more"] is (after + 5 < total)
        if not batch["has_more"]:
            break
        after = page[-1]
    assert seen == list(range(1, total + 1))
    tail = await chat.visitor.sync(chat.conv, after=total, limit=5)
    assert tail["messages"] == [] and tail["has_more"] is False


async def test_batch_messages_match_the_live_message_frames(chat: Chat) -> None:
    acks = [await chat.agent.send_and_ack(f"live {i}", chat.conv) for i in range(3)]
    live = [await message_with_cid(chat.visitor, ack["cid"]) for ack in acks]
    batch = await chat.visitor.sync(chat.conv, after=live[0]["seq"] - 1, limit=3)
    for got, want in zip(batch["messages"], live, strict=True):
        assert {k: got.get(k) for k in MESSAGE_FIELDS} == {k: want[k] for k in MESSAGE_FIELDS}


@pytest_asyncio.fixture(scope="module")
async def long_conv(server: ServerProcess) -> AsyncIterator[tuple[Clients, WsClient, str]]:
    """A conversation with more than 500 messages, for the sync limits."""
    pool = Clients()
    try:
        visitor = await pool.visitor(server)
        first = await visitor.send_and_ack("message -1")
        await send_pipelined(visitor, first["conv"], 520, window=20, timeout=60)
        yield pool, visitor, first["conv"]
    finally:
        await pool.close_all()


async def test_sync_default_limit_is_100(long_conv: tuple[Clients, WsClient, str]) -> None:
    _, visitor, conv = long_conv
    batch = await visitor.sync(conv, after=0)
    assert [m["seq"] for m in batch["messages"]] == list(range(1, 101))
    assert batch["has_more"] is True


async def test_sync_limit_is_capped_at_500(long_conv: tuple[Clients, WsClient, str]) -> None:
    _, visitor, conv = long_conv
    batch = await visitor.sync(conv, after=0, limit=1000)
    assert [m["seq"] for m in batch["messages"]] == list(range(1, 501))
    assert batch["has_more"] is True
    rest = await visitor.sync(conv, after=500, limit=500)
    assert rest["messages"] and rest["messages"][0]["seq"] == 501
    assert rest["has_more"] is False


# ------------------------------------------------------------------------ typing, read, ping


async def test_typing_is_relayed_to_the_other_side_with_sender(chat: Chat) -> None:
    # Typing is a signal, never stored or replayed, and a client repeats it while its user
    # types (the widget every 3 s). On three nodes the agent's node subscribes to the
    # conversation as the assignment reaches it, so a signal sent the instant the visitor
    # hears of the assignment can find no subscriber there yet: repeat it, as the widget.
    for attempt in range(5):
        await chat.visitor.send_json({"type": "typing", "conv": chat.conv, "on": True})
        try:
            got = await chat.agent.recv_type("typing", timeout=1.0, conv=chat.conv)
            break
        except AssertionError:
            if attempt == 4:
                raise
    assert got["on"] is True
    assert got["sender"]["type"] == "visitor"
    assert got["sender"]["id"] == chat.visitor.session["visitor_id"]
    await chat.agent.send_json({"type": "typing", "conv": chat.conv, "on": False})
    got = await chat.visitor.recv_type("typing", conv=chat.conv)
    assert got["on"] is False
    assert got["sender"]["type"] == "agent"
    assert got["sender"]["id"] == chat.agent.login["agent"]["id"]


async def test_read_is_relayed_to_the_other_side_with_sender(chat: Chat) -> None:
    ack = await chat.agent.send_and_ack("did you read this?", chat.conv)
    await message_with_cid(chat.visitor, ack["cid"])
    await chat.visitor.send_json({"type": "read", "conv": chat.conv, "seq": ack["seq"]})
    got = await chat.agent.recv_type("read", conv=chat.conv)
    assert got["seq"] == ack["seq"]
    assert got["sender"]["type"] == "visitor"
    await chat.agent.send_json({"type": "read", "conv": chat.conv, "seq": ack["seq"]})
    got = await chat.visitor.recv_type("read", conv=chat.conv)
    assert got["seq"] == ack["seq"]
    assert got["sender"]["type"] == "agent"


@pytest.mark.parametrize("role", ["visitor", "agent"])
async def test_ping_is_answered_with_pong(server: ServerProcess, clients: Clients,
                                          role: str) -> None:
    client = await (clients.visitor(server) if role == "visitor" else clients.agent(server))
    await client.send_json({"type": "ping"})
    await client.recv_type("pong")


# ------------------------------------------------------------------------ conversation life


@pytest.mark.parametrize("closer", ["agent", "visitor"])
async def test_close_sends_conv_closed_to_both_sides(chat: Chat, closer: str) -> None:
    who = chat.agent if closer == "agent" else chat.visitor
    await who.send_json({"type": "close", "conv": chat.conv})
    await chat.agent.recv_event("conv.closed", chat.conv)
    await chat.visitor.recv_event("conv.closed", chat.conv)


async def test_closed_conversation_is_no_longer_the_visitors_open_one(
    server: ServerProcess, chat: Chat,
) -> None:
    await chat.agent.send_json({"type": "close", "conv": chat.conv})
    await chat.visitor.recv_event("conv.closed", chat.conv)
    session = await visitor_session(server, token=chat.visitor.session["token"])
    assert session.json()["conversation"] is None
    reopened = await chat.visitor.send_and_ack("new question")
    assert reopened["conv"] != chat.conv


async def test_agent_sending_into_a_closed_conversation_gets_conversation_closed(
    chat: Chat,
) -> None:
    await chat.agent.send_json({"type": "close", "conv": chat.conv})
    await chat.agent.recv_event("conv.closed", chat.conv)
    cid = await chat.agent.send_message("one more thing", chat.conv)
    refused = await chat.agent.wait_ack(cid)
    assert refused["type"] == "error" and refused["code"] == "conversation_closed", refused
    assert cid not in [m["cid"] for m in await chat.agent.history(chat.conv)]


def closed_send_outcome(visitor: WsClient, frame: Frame, closed_conv: str) -> str:
    """What a visitor's send into its closed conversation did, in a comparable form."""
    if frame["type"] == "error":
        return f"error {frame['code']}"
    assert frame["conv"] != closed_conv, f"stored into a closed conversation: {frame}"
    return "ack in a new conversation"


async def test_visitor_sending_into_its_closed_conversation_gets_one_answer_on_any_node(
    server_factory: ServerFactory, clients: Clients,
) -> None:
    """Whatever the server does with it (refuse, or open a new conversation), it must
    not depend on what one node happens to have cached: a restart stands for another node."""
    srv = server_factory()
    visitor = await clients.visitor(srv)
    agent = await clients.agent(srv)
    conv = await open_conversation(visitor, agent)
    await agent.send_json({"type": "close", "conv": conv})
    await visitor.recv_event("conv.closed", conv)
    warm = await visitor.wait_ack(await visitor.send_message("still there?", conv))
    outcomes = [closed_send_outcome(visitor, warm, conv)]
    if warm["type"] == "ack":  # it opened a new conversation: close that one too
        await agent.send_json({"type": "close", "conv": warm["conv"]})
        await visitor.recv_event("conv.closed", warm["conv"])
        conv = warm["conv"]
    await srv.arestart()
    back = await clients.visitor(srv, session=visitor.session)
    cold = await back.wait_ack(await back.send_message("still there?", conv))
    outcomes.append(closed_send_outcome(back, cold, conv))
    assert outcomes[0] == outcomes[1], f"before restart: {outcomes[0]}; after: {outcomes[1]}"


async def test_status_is_answered_with_event_agent_status(
    server: ServerProcess, demo: DemoTenant, clients: Clients,
) -> None:
    agent = await clients.agent(server, demo.agents[1])
    for state in ("away", "online"):
        await agent.send_json({"type": "status", "state": state})
        event = await agent.recv_event("agent.status")
        data: dict[str, Any] = event.get("data") or {}
        assert data.get("state", data.get("status")) == state, event


async def test_transfer_hands_the_conversation_to_another_agent(
    server: ServerProcess, demo: DemoTenant, clients: Clients,
) -> None:
    first = await clients.agent(server, demo.agents[0])
    second = await clients.agent(server, demo.agents[1])
    visitor = await clients.visitor(server)
    conv = await open_conversation(visitor, first)
    await first.send_json({"type": "transfer", "conv": conv,
                           "to_agent": second.login["agent"]["id"]})
    await first.recv_event("conv.transferred", conv)
    await second.recv_until(
        lambda f: f["type"] == "event" and f.get("conv") == conv
        and f.get("name") in ("conv.transferred", "conv.assigned"),
        what="news of the transfer",
    )
    cid = await visitor.send_message("am I with someone new?", conv)
    await message_with_cid(second, cid)
