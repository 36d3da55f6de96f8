"""Chat records (server/chat/records.py): a message read from a row is the message."""

from __future__ import annotations

import dataclasses

import pytest

from server.chat.records import MessageFields, StoredMessage
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
