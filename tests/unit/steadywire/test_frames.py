"""The wire package: every frame round-trips, bad frames are typed errors, codes match."""

from __future__ import annotations

import orjson
import pytest

import steadywire as w

CLIENT_EXAMPLES = [
    w.Hello("tok", {"c1": 3}, "bridge/1.0"),
    w.Send("cid-1", "hi", "c1", w.MessageKind.NOTE, as_agent="a1"),
    w.Send("cid-2", "hello"),
    w.Sync("c1", 4, 200),
    w.Typing("c1", True, as_agent="a1"),
    w.Read("c1", 7),
    w.Ping(),
    w.Accept("c1", as_agent="a1"),
    w.Transfer("c1", to_department="d1", note="vip", as_agent="a1"),
    w.Transfer("c1", to_queue=True, reason="visitor_asked"),  # the AI robot's hand-off
    w.Close("c1"),
    w.Status(w.AgentState.AWAY),
    w.Page("https://shop.example/", "Shop", None),
    w.Rate("c1", 5, "great"),
    w.Monitor(False),
]
MESSAGE = w.Message(
    "c1",
    "m1",
    2,
    "2026-01-01T00:00:00.000Z",
    "text",
    "hi <b>",
    w.Sender("visitor", "v1", "Ada"),
    "hi &lt;b&gt;",
    "cid-9",
)
SERVER_EXAMPLES = [
    w.Welcome("s1", "node-a", 25, {"type": "agent", "id": "a1"}),
    MESSAGE,
    w.Ack("cid-9", "c1", "m1", 2, "2026-01-01T00:00:00.000Z"),
    w.Batch("c1", (MESSAGE,), True),
    w.Event("conv.closed", "c1", {"by": {"type": "agent", "id": "a1", "name": "Bo"}}),
    w.TypingNotice("c1", True, w.Sender("agent", "a1", "Bo")),
    w.ReadNotice("c1", 2, w.Sender("visitor", "v1", "")),
    w.Pong(),
    w.Error("forbidden", "no", cid="cid-1", conv="c1"),
]


@pytest.mark.parametrize("frame", CLIENT_EXAMPLES, ids=lambda f: f.type)
def test_client_frames_round_trip(frame: w.ClientFrame) -> None:
    assert w.parse_client_frame(w.dumps(frame)) == frame


@pytest.mark.parametrize("frame", SERVER_EXAMPLES, ids=lambda f: f.type)
def test_server_frames_round_trip(frame: w.ServerFrame) -> None:
    assert w.parse_server_frame(w.dumps(frame)) == frame


def test_as_is_written_as_the_contract_spells_it() -> None:
    wire = orjson.loads(w.dumps(w.Send("c", "b", "conv", as_agent="agent-7")))
    assert wire == {"type": "send", "cid": "c", "body": "b", "conv": "conv", "as": "agent-7"}
    assert "as" not in orjson.loads(w.dumps(w.Close("conv")))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"{not json", "malformed JSON"),
        (b"[1, 2]", "a frame is a JSON object"),
        (b'{"type": "shout"}', "unknown type"),
        (b'{"type": "send", "cid": "", "body": "x"}', "cid"),
        (b'{"type": "send", "cid": "' + b"x" * 65 + b'", "body": "x"}', "cid"),
        (b'{"type": "send", "cid": "c", "body": ""}', "body"),
        (b'{"type": "send", "cid": "c", "body": "x", "kind": "shout"}', "kind"),
        (b'{"type": "send", "cid": "c", "body": "x", "as": 7}', "as"),
        (b'{"type": "typing", "conv": "c", "on": "yes"}', "on"),
        (b'{"type": "read", "conv": "c", "seq": true}', "seq"),
        (b'{"type": "transfer", "conv": "c"}', "exactly one"),
        (b'{"type": "transfer", "conv": "c", "to_agent": "a", "to_queue": true}', "exactly one"),
        (b'{"type": "hello", "token": "t", "resume": {"c": "3"}}', "resume"),
        (b'{"type": "page", "url": "javascript:alert(1)"}', "http"),
        (b'{"type": "rate", "conv": "c", "rating": 6}', "rating"),
    ],
)
def test_bad_client_frames_are_typed_errors(text: bytes, reason: str) -> None:
    with pytest.raises(w.BadFrame) as info:
        w.parse_client_frame(text)
    assert reason in info.value.message
    assert info.value.code is w.ErrorCode.BAD_FRAME


def test_bad_frame_keeps_the_cid_and_conv_to_answer_with() -> None:
    with pytest.raises(w.BadFrame) as info:
        w.parse_client_frame(b'{"type": "send", "cid": "c-1", "conv": "v", "body": 5}')
    assert (info.value.cid, info.value.conv, info.value.frame_type) == ("c-1", "v", "send")


def test_server_frames_are_not_client_frames() -> None:
    with pytest.raises(w.UnknownFrameType):
        w.parse_client_frame(w.dumps(w.Pong()))
    with pytest.raises(w.UnknownFrameType):
        w.parse_server_frame(w.dumps(w.Ping()))


def test_sync_limit_is_capped_at_500() -> None:
    frame = w.parse_client_frame(b'{"type": "sync", "conv": "c", "limit": 9999}')
    assert isinstance(frame, w.Sync) and frame.limit == 500


def test_a_message_without_seq_is_refused_but_extra_fields_are_ignored() -> None:
    with pytest.raises(w.BadFrame):
        w.parse_server_frame(b'{"type": "message", "conv": "c", "body": "x"}')
    frame = w.parse_server_frame(
        b'{"type": "message", "conv": "c", "seq": 1, "body": "x", "future": [1]}'
    )
    assert isinstance(frame, w.Message) and frame.seq == 1


def test_event_details_are_typed_and_unknown_names_tolerated() -> None:
    queued = w.Event(
        "conv.queued",
        "c1",
        {
            "visitor": {"name": "Ada"},
            "department": "d1",
            "messages": [MESSAGE.to_wire()],
            "visitor_online": True,
        },
    )
    details = queued.details()
    assert isinstance(details, w.ConvQueued)
    assert details.messages == (MESSAGE,) and details.department == "d1"
    assigned = w.Event(
        "conv.assigned", "c1", {"agent": {"type": "agent", "id": "a1", "name": "Bo"}, "last_seq": 4}
    )
    assert assigned.details() == w.ConvAssigned(w.Sender("agent", "a1", "Bo"), 4, {})
    assert w.Event("conv.teleported", "c1", {}).details() is None
    for name in w.EventName:
        assert w.Event(name, "c1", {}).details() is not None


def test_a_transfer_to_a_department_names_it_as_the_server_sends_it() -> None:
    """The server sends ``to_department`` as ``{"id", "name"}`` (docs/protocol.md)."""
    sent = w.Event(
        "conv.transferred",
        "c1",
        {"from": None, "to_department": {"id": "d1", "name": "Sales"}, "last_seq": 3},
    ).details()
    assert isinstance(sent, w.ConvTransferred)
    assert (sent.to_department, sent.to_department_name, sent.last_seq) == ("d1", "Sales", 3)
    bare = w.Event("conv.transferred", "c1", {"to_department": "d2"}).details()
    assert isinstance(bare, w.ConvTransferred)
    assert (bare.to_department, bare.to_department_name) == ("d2", None)
    to_agent = w.Event("conv.transferred", "c1", {"to_agent": {"id": "a1"}}).details()
    assert isinstance(to_agent, w.ConvTransferred) and to_agent.to_department is None


def test_codes_match_the_protocol() -> None:
    assert w.CloseCode.BAD_TOKEN == 4401 and w.CloseCode.BAD_TOKEN.final
    assert w.CloseCode.SERVICE_RESTART.reconnect_at_once
    assert w.ErrorCode.RATE_LIMITED.retryable and not w.ErrorCode.FORBIDDEN.retryable
    assert w.Error("rate_limited").error_code is w.ErrorCode.RATE_LIMITED
    assert w.Error("brand_new_code").error_code is None


def test_stored_bodies_longer_than_the_send_limit_are_read_whole() -> None:
    """The send limit applies to what a client sent; masking may lengthen the stored body
    (issue #21, item 6), up to the server's 48,000 bytes. The wire package, which the
    bridge core and the console read with, sets no limit on a received body."""
    stored = "**** **** **** 2222;" * 2399  # 47,980 characters: 13-digit cards, masked
    frame = w.parse_server_frame(
        orjson.dumps({"type": "message", "conv": "c", "seq": 1, "body": stored})
    )
    assert isinstance(frame, w.Message) and frame.body == stored
    queued = w.Event("conv.queued", "c", {"messages": [frame.to_wire()]}).details()
    assert isinstance(queued, w.ConvQueued) and queued.messages[0].body == stored
    assert w.parse_server_frame(w.dumps(frame)) == frame
    assert w.Error("prechat_required").error_code is w.ErrorCode.PRECHAT_REQUIRED
    assert w.Error("limit_reached").error_code is w.ErrorCode.LIMIT_REACHED


def test_the_live_monitor_frame_and_events() -> None:
    assert w.parse_client_frame(b'{"type": "monitor"}') == w.Monitor(True)
    with pytest.raises(w.BadFrame):
        w.parse_client_frame(b'{"type": "monitor", "on": "yes"}')
    came = w.Event("visitor.online", None, {"visitor": {"type": "visitor", "id": "v1"},
                                             "at": "2026-01-01T00:00:00.000Z"}).details()
    assert came == w.VisitorCameOrWent(w.Sender("visitor", "v1", ""), "2026-01-01T00:00:00.000Z")
    assert w.Event("monitor.subscribed", None, {"on": True}).details() == w.MonitorSubscribed(True)


def test_the_queue_summary_is_typed() -> None:
    summary = w.Event(
        "queue.summary",
        None,
        {
            "waiting": 3,
            "departments": [
                {"department": None, "waiting": 1, "oldest_since": "2026-12-07T05:30:52.659Z"},
                {"department": "d1", "waiting": 2, "oldest_since": "2026-12-07T05:31:00.000Z"},
            ],
        },
    )
    details = summary.details()
    assert isinstance(details, w.QueueSummary)
    assert details.waiting == 3
    assert details.departments[1] == w.QueueWaiting("d1", 2, "2026-12-07T05:31:00.000Z")
    assert w.EventName.QUEUE_SUMMARY == "queue.summary"


def test_an_unreadable_attachment_is_left_out_not_the_message() -> None:
    good = {"id": "att1", "name": "a.pdf", "size": 3, "type": "application/pdf"}
    raw = orjson.dumps(
        {
            "type": "message", "conv": "c1", "id": "m1", "seq": 1, "ts": "t", "kind": "text",
            "body": "see files", "html": "", "cid": None,
            "sender": {"type": "visitor", "id": "v1", "name": ""},
            "attachments": [{"name": "no id"}, good, {"id": "att2", "size": "big"}, "junk"],
        }
    )  # fmt: skip
    message = w.parse_server_frame(raw)
    assert isinstance(message, w.Message) and message.body == "see files"
    assert [a.id for a in message.attachments] == ["att1"]
    batch = w.parse_server_frame(
        orjson.dumps({"type": "batch", "conv": "c1", "messages": [orjson.loads(raw)]})
    )
    assert isinstance(batch, w.Batch) and [a.id for a in batch.messages[0].attachments] == ["att1"]


def test_the_robots_hand_off_is_written_as_the_contract_spells_it() -> None:
    frame = w.Transfer("c1", to_queue=True, reason="visitor_asked")
    assert w.dumps(frame) == (
        b'{"type":"transfer","conv":"c1","to_queue":true,"reason":"visitor_asked"}'
    )
