"""Chat records (server/chat/records.py): a message read from a row is the message."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

import steadywire
from server.chat.records import MessageFields, SendResult, StoredMessage
from server.chat.writer import PendingSend

ROW = ("m" * 26, "t1", "c" * 26, 7, "text", "visitor", "v" * 26, "Vi", "cid-1", "hello", 1700)


def test_from_row_equals_the_keyword_construction_field_for_field() -> None:
    built = StoredMessage(
        id=ROW[0],
        tenant_id=ROW[1],
        conv=ROW[2],
        seq=ROW[3],
        kind=ROW[4],
        sender_type=ROW[5],
        sender_id=ROW[6],
        sender_name=ROW[7],
        cid=ROW[8],
        body=ROW[9],
        created_ms=ROW[10],
    )
    read = StoredMessage.from_row(ROW)
    # Every field, the private ones too (a field from_row forgot would be unset here).
    for f in dataclasses.fields(StoredMessage):
        assert getattr(read, f.name) == getattr(built, f.name), f.name
    assert read == built
    assert read.wire() == built.wire() and read.ts == built.ts


def test_a_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError):
        StoredMessage.from_row(ROW[:-1])


def test_pending_and_stored_messages_share_their_fields_by_name_only() -> None:
    shared = [f.name for f in dataclasses.fields(MessageFields)]
    assert set(shared) <= {f.name for f in dataclasses.fields(PendingSend)}
    assert set(shared) <= {f.name for f in dataclasses.fields(StoredMessage)}
    # Keyword-only: a positional call cannot put a value in the wrong field.
    with pytest.raises(TypeError):
        StoredMessage(*ROW)  # type: ignore[misc]


@pytest.mark.parametrize(
    "attachments", [None, [{"id": "f1", "name": "a.png", "size": 3, "type": "image/png"}]]
)
def test_the_fast_message_frame_is_the_wire_package_one(
    attachments: list[dict[str, object]] | None,
) -> None:
    """``wire()`` skips making steadywire's objects (it is on every message's path): it
    must still be byte for byte what ``wire_message().to_wire()`` makes, and parse back."""
    message = StoredMessage.from_row(ROW)
    message.html = "hello"
    message.attachments = attachments
    fast, typed = message.wire(), message.wire_message().to_wire()
    assert orjson.dumps(fast) == orjson.dumps(typed)
    assert steadywire.parse_server_frame(orjson.dumps(fast)) == message.wire_message()


def test_the_ack_is_the_wire_package_one() -> None:
    message = StoredMessage.from_row(ROW)
    ack = SendResult(message, duplicate=False).ack()
    parsed = steadywire.parse_server_frame(orjson.dumps(ack))
    assert parsed == steadywire.Ack("cid-1", ROW[2], ROW[0], 7, message.ts)
    assert orjson.dumps(parsed.to_wire()) == orjson.dumps(ack)


def test_a_newer_nodes_message_with_a_field_this_release_lacks_still_decodes() -> None:
    """A gray rollout: the next release adds a field to the bus message. This node must
    still deliver the message (without what is new), not drop it on a TypeError, as the
    release before attachments did with ``attachments``."""
    from server.chat.bus_codec import ChatCodec

    message = StoredMessage.from_row(ROW)
    codec = ChatCodec()
    raw = codec.encode("node-a", {"type": "message", "message": message})
    newer = orjson.loads(raw)
    bus_message = next(v for v in _dicts(newer) if v.get("cid") == "cid-1")
    bus_message["reactions"] = [{"emoji": "+1", "by": "a1"}]
    node, payload = codec.decode(orjson.dumps(newer))
    assert node == "node-a"
    assert payload["message"] == message
    # The usual message (no unknown field) is decoded as before.
    assert codec.decode(raw)[1]["message"] == message


def _dicts(value: object) -> list[dict[str, object]]:
    """Every dict inside a decoded JSON value, outermost first."""
    if isinstance(value, dict):
        return [value, *(d for v in value.values() for d in _dicts(v))]
    if isinstance(value, list):
        return [d for v in value for d in _dicts(v)]
    return []
