"""The console speaks the protocol through steadywire only (issue #12, item 2).

* Every frame it sends is one of steadywire's client frames: what the client queues
  parses with ``parse_client_frame`` and serialises back to the same text.
* Every frame and event it reads is parsed once, at the client's edge; the desk and the
  live monitor get steadywire's typed event data. An event name or a frame type it does
  not know, and fields it does not know, are ignored (PROTOCOL.md: clients ignore them).
* An AST check over ``tui_agent/`` fails on a frame built by hand (a dict literal with a
  frame's ``type``), on event data read as a dict (``event.data``), and on an event's
  data parsed anywhere but the one edge (``.details()`` outside ``tui_agent/events.py``,
  steadywire's raw ``decode``/``from_object``); each rule is shown to catch a planted case.
"""

from __future__ import annotations

import ast
import asyncio
import json
from pathlib import Path

import steadywire as w
from steadywire import dumps, parse_server_frame
from tui_agent.client import SteadydeskClient
from tui_agent.desk import Desk
from tui_agent.events import ClientEvent, ConversationEvent, MessagesArrived
from tui_agent.models import AgentStatus, ConversationStatus

TUI_AGENT = Path(__file__).resolve().parents[2] / "tui_agent"
EDGE = TUI_AGENT / "events.py"  # the one place an event's data is parsed
FRAME_TYPES = set(w.CLIENT_FRAMES) | set(w.SERVER_FRAMES)
RAW_READERS = {"decode", "from_object"}  # steadywire's dict-level entry points


# ---------------------------------------------------------------------- the AST check


def hand_built_frames(tree: ast.AST) -> list[int]:
    """Dict literals that spell a frame: ``{"type": "<a client or server frame type>"}``."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key, value in zip(node.keys, node.values, strict=True)
        if isinstance(key, ast.Constant)
        and key.value == "type"
        and isinstance(value, ast.Constant)
        and value.value in FRAME_TYPES
    ]


def _reads_data(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute) and node.attr == "data" and isinstance(node.ctx, ast.Load)
    )


def _parses_details(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "details"
        and not node.args
    )


def _imports_raw_reader(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("steadywire")
        and any(alias.name in RAW_READERS for alias in node.names)
    )


def raw_event_reads(tree: ast.AST, *, edge: bool) -> list[int]:
    """``x.data`` read (an Event's raw JSON), ``x.details()`` outside the edge, and
    steadywire's ``decode``/``from_object`` imported (a frame read as a dict)."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.expr | ast.stmt)
        and (_reads_data(node) or (not edge and _parses_details(node)) or _imports_raw_reader(node))
    ]


def test_the_console_builds_and_reads_frames_only_through_steadywire() -> None:
    problems = []
    for path in sorted(TUI_AGENT.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        where = path.relative_to(TUI_AGENT.parent)
        problems += [f"{where}:{line}: a frame dict" for line in hand_built_frames(tree)]
        problems += [
            f"{where}:{line}: wire data read outside steadywire's classes"
            for line in raw_event_reads(tree, edge=path == EDGE)
        ]
    assert not problems, "use steadywire's frame and event classes:\n" + "\n".join(problems)


def test_the_check_catches_planted_cases_and_spares_unrelated_code() -> None:
    planted = {
        'self._enqueue({"type": "accept", "conv": conv})': hand_built_frames,
        'ws.send(json.dumps({"conv": c, "type": "typing", "on": True}))': hand_built_frames,
        'name = event.data.get("conv")': raw_event_reads,
        'data = frame.data\nagent = data.get("agent")': raw_event_reads,
        "details = frame.details()": raw_event_reads,
        "from steadywire import decode, from_object": raw_event_reads,
    }
    for source, check in planted.items():
        tree = ast.parse(source)
        found = check(tree) if check is hand_built_frames else raw_event_reads(tree, edge=False)
        assert found, f"not caught: {source!r}"
    unrelated = (
        'who = {"type": "agent", "id": a}\n'  # a sender object, not a frame
        'blocks = [{"type": "section"}]\n'
        "spark.data = values\n"  # a widget's attribute, written
        "details = frame.details(conv)\n"  # another method of that name, with arguments
        "from steadywire import parse_server_frame\n"
    )
    tree = ast.parse(unrelated)
    assert hand_built_frames(tree) == [] and raw_event_reads(tree, edge=False) == []
    assert raw_event_reads(ast.parse("d = frame.details()"), edge=True) == []


# ---------------------------------------------------------------------- outgoing frames


def test_every_frame_the_client_sends_is_a_steadywire_client_frame() -> None:
    client = SteadydeskClient("http://127.0.0.1:9", lambda event: None)
    outbox: asyncio.Queue[str] = asyncio.Queue()
    client._outbox, client._live = outbox, True
    client.send("c1", "hello", "note", ["att1"])
    client.accept("c1")
    client.transfer("c1", to_agent="a2", note="over to you")
    client.transfer("c1", to_department="d1")
    client.close("c1")
    client.set_status(AgentStatus.AWAY)
    client.monitor(True)
    client.typing("c1", True)
    client.mark_read("c1", 3)
    client.sync("c1")
    sent = [outbox.get_nowait() for _ in range(outbox.qsize())]
    assert [json.loads(text)["type"] for text in sent] == [
        "send", "accept", "transfer", "transfer", "close", "status", "monitor", "typing",
        "read", "sync",
    ]  # fmt: skip
    for text in sent:
        frame = w.parse_client_frame(text)  # the server's own validation rules
        assert dumps(frame).decode() == text
    note = w.parse_client_frame(sent[0])
    assert isinstance(note, w.Send) and note.kind is w.MessageKind.NOTE
    assert note.attachments == ("att1",) and note.conv == "c1"


# ---------------------------------------------------------------------- incoming frames


def _frame(**fields: object) -> str:
    return json.dumps(fields)


def test_unknown_events_frames_and_fields_are_ignored_and_the_desk_goes_on() -> None:
    seen: list[ClientEvent] = []
    client = SteadydeskClient("http://127.0.0.1:9", seen.append)
    client.me = {"id": "agent-1"}
    desk = Desk()
    desk.me_id = "agent-1"

    def feed(raw: str) -> None:
        before = len(seen)
        client._dispatch(raw)
        for event in seen[before:]:
            if isinstance(event, ConversationEvent):
                desk.apply_event(event)

    feed(_frame(type="hologram", conv="c1"))  # a frame type from a newer server
    feed(_frame(type="event", name="conv.teleported", conv="c1", data={"to": "mars"}))
    feed(_frame(type="event", name="conv.queued", conv="c1", data="not an object"))
    feed("not json at all")
    assert seen == [] and desk.conversations == {} and desk.tick == 0

    visitor = {"id": "v1", "name": "Vera", "mood": "curious"}  # "mood": unknown field
    message = {
        "type": "message", "conv": "c1", "id": "m1", "seq": 1, "ts": "2026-12-07T09:00:00Z",
        "kind": "text", "body": "hi", "html": "hi", "cid": None,
        "sender": {"type": "visitor", "id": "v1", "name": "Vera", "badge": "gold"},
        "reactions": ["+1"],
    }  # fmt: skip
    feed(
        _frame(
            type="event", name="conv.queued", conv="c1", hint="newer",
            data={"status": "queued", "created_at": "2026-12-07T09:00:00Z",
                  "visitor": visitor, "department": None, "messages": [message],
                  "priority": "high"},
        )
    )  # fmt: skip
    conv = desk.get("c1")
    assert conv.status == ConversationStatus.QUEUED and conv.title == "Vera"
    assert [c.id for c in desk.queue()] == ["c1"]
    previews = [e for e in seen if isinstance(e, MessagesArrived)]
    assert [(e.source, [m.body for m in e.messages]) for e in previews] == [("preview", ["hi"])]

    feed(
        _frame(
            type="event", name="conv.assigned", conv="c1",
            data={"agent": {"type": "agent", "id": "agent-1", "name": "Me", "avatar": "x"},
                  "last_seq": 1, "escalated": True},
        )
    )  # fmt: skip
    feed(json.dumps({**message, "id": "m2", "seq": 2, "body": "still there?"}))
    assert desk.is_mine(conv) and [c.id for c in desk.mine()] == ["c1"]
    desk.add_messages("c1", [m for e in seen if isinstance(e, MessagesArrived) for m in e.messages])
    assert [m.body for m in conv.ordered()] == ["hi", "still there?"]
    assert conv.notes[-1].text == "Assigned to Me"


def test_the_wire_enums_are_steadywires() -> None:
    from server.kernel import enums as kernel
    from tui_agent import models

    for name in ("ConversationStatus", "AgentStatus", "SenderType", "MessageKind"):
        assert getattr(kernel, name) is getattr(w, name) is getattr(models, name), name
    assert w.AgentState is w.AgentStatus
    assert isinstance(parse_server_frame(_frame(type="pong")), w.Pong)
