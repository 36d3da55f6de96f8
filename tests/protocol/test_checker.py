"""The history checker itself must catch what it is there to catch (no server needed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from tests.support.checker import Ack, Sent, check_history, stream_problems
from tests.support.clients import WsClient

V = ("visitor", "v1")
A = ("agent", "a1")


def msg(seq: int, cid: str, sender: tuple[str, str] = V, mid: str | None = None) -> dict[str, Any]:
    return {"seq": seq, "cid": cid, "id": mid or f"m{seq}",
            "sender": {"type": sender[0], "id": sender[1]}}


def test_a_clean_history_passes() -> None:
    history = {"c": [msg(1, "x"), msg(2, "y", A), msg(3, "z")]}
    acks = [Ack("c", V, "x", "m1", 1), Ack("c", A, "y", "m2", 2)]
    result = check_history(history, acks, [Sent("c", V, "z")])
    assert result.ok, str(result)


def test_an_acked_message_missing_from_storage_is_lost() -> None:
    result = check_history({"c": [msg(1, "x")]}, [Ack("c", V, "gone", "m9", 2)])
    assert [a.cid for a in result.lost] == ["gone"]
    assert not result.ok and "lost" in str(result)


def test_a_cid_stored_twice_and_a_seq_stored_twice_are_duplicates() -> None:
    result = check_history({"c": [msg(1, "x"), msg(2, "x"), msg(2, "y")]}, [])
    assert len(result.duplicated) == 2, result.duplicated


def test_the_same_cid_from_two_senders_is_not_a_duplicate() -> None:
    result = check_history({"c": [msg(1, "x", V), msg(2, "x", A)]}, [])
    assert result.ok, str(result)


def test_missing_seqs_are_gaps() -> None:
    result = check_history({"c": [msg(2, "x"), msg(5, "y")]}, [])
    assert result.gaps == {"c": [1, 3, 4]}


def test_an_ack_that_disagrees_with_storage_is_reported() -> None:
    result = check_history({"c": [msg(1, "x")]}, [Ack("c", V, "x", "m1", 7)])
    assert result.mismatched and not result.ok


def test_one_cid_acked_twice_differently_is_reported() -> None:
    acks = [Ack("c", V, "x", "m1", 1), Ack("c", V, "x", "m2", 2)]
    result = check_history({"c": [msg(1, "x"), msg(2, "q")]}, acks)
    assert result.inconsistent_acks and not result.ok


def test_a_sent_cid_that_was_never_stored_is_reported() -> None:
    result = check_history({"c": [msg(1, "x")]}, [], [Sent("c", V, "never")])
    assert [s.cid for s in result.never_stored] == ["never"]


def test_stream_problems_names_duplicates_reordering_and_holes() -> None:
    problems = stream_problems([1, 3, 2, 3], range(1, 5))
    text = " | ".join(problems)
    assert "more than once" in text and "out of order" in text and "missing" in text
    assert stream_problems([1, 2, 3], range(1, 4)) == []


class _ScriptedSocket:
    """Stands in for a connection that delivers a fixed list of frames, then closes."""

    close_code = 1000
    close_reason = ""

    def __init__(self, frames: list[Any]) -> None:
        self.frames = frames

    def __aiter__(self) -> AsyncIterator[str]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[str]:
        for frame in self.frames:
            yield frame if isinstance(frame, str) else json.dumps(frame)


async def test_ws_client_flags_a_seq_repeated_or_going_back_and_non_json_frames() -> None:
    def m(seq: int) -> dict[str, Any]:
        return {"type": "message", "conv": "c", "seq": seq}

    client = WsClient(_ScriptedSocket([m(1), m(2), m(2), m(1), "not json", {"no": "type"},
                                       m(3)]))  # type: ignore[arg-type]
    await asyncio.wait_for(client.closed.wait(), 5)
    assert len(client.stream_violations) == 2, client.stream_violations
    assert len(client.invalid) == 2, client.invalid
    assert client.message_seqs("c") == [1, 2, 2, 1, 3]
