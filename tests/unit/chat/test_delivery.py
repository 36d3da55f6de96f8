"""The delivery cursor (server/chat/delivery.py): live messages, gaps, fetched ranges."""

from __future__ import annotations

from server.chat.delivery import Offer, StreamCursor
from server.chat.records import StoredMessage


def message(seq: int, conv: str = "c1") -> StoredMessage:
    return StoredMessage(
        id=f"m{seq}",
        tenant_id="t",
        conv=conv,
        seq=seq,
        kind="text",
        sender_type="visitor",
        sender_id="v",
        sender_name="V",
        cid=f"cid{seq}",
        body=f"body {seq}",
        created_ms=0,
    )


def seqs(messages: list[StoredMessage]) -> list[int]:
    return [m.seq for m in messages]


def test_the_next_seq_goes_out_and_moves_the_cursor() -> None:
    cursor = StreamCursor(3)
    assert cursor.offer(message(4)) is Offer.SEND
    assert cursor.offer(message(5)) is Offer.SEND
    assert cursor.pos == 5 and not cursor.fetching and cursor.pending == []


def test_a_seq_already_given_is_dropped() -> None:
    cursor = StreamCursor(5)
    assert cursor.offer(message(5)) is Offer.DROP
    assert cursor.offer(message(2)) is Offer.DROP
    assert cursor.pos == 5 and cursor.pending == []


def test_a_gap_asks_for_a_fetch_and_holds_later_messages() -> None:
    cursor = StreamCursor(1)
    assert cursor.offer(message(4)) is Offer.GAP
    assert cursor.fetching
    # While the fetch runs, everything waits, even the seq that would close the gap.
    assert cursor.offer(message(2)) is Offer.HELD
    assert cursor.offer(message(5)) is Offer.HELD
    assert cursor.pos == 1
    assert seqs(cursor.pending) == [4, 2, 5]


def test_fetched_messages_go_out_once_then_held_ones_follow_in_order() -> None:
    cursor = StreamCursor(1)
    cursor.offer(message(4))
    cursor.offer(message(5))
    cursor.offer(message(3))
    # The database returns 2..4 (3 and 4 are also held: sent once, from the fetch).
    assert seqs(cursor.accept_fetched([message(2), message(3), message(4)])) == [2, 3, 4]
    out, again = cursor.drain_pending()
    assert seqs(out) == [5] and not again
    assert cursor.pos == 5 and not cursor.fetching and cursor.pending == []
    assert cursor.offer(message(6)) is Offer.SEND


def test_fetched_messages_at_or_below_the_cursor_are_skipped() -> None:
    cursor = StreamCursor(3)
    cursor.offer(message(6))
    assert seqs(cursor.accept_fetched([message(2), message(3), message(4), message(5)])) == [4, 5]
    assert cursor.pos == 5


def test_a_gap_left_after_the_fetch_asks_for_another_and_keeps_what_waits() -> None:
    cursor = StreamCursor(0)
    cursor.offer(message(3))  # gap: 1..2 missing
    cursor.offer(message(7))  # arrives during the fetch
    assert seqs(cursor.accept_fetched([message(1), message(2)])) == [1, 2]
    out, again = cursor.drain_pending()
    assert seqs(out) == [3] and again  # 4..6 still missing
    assert cursor.fetching and seqs(cursor.pending) == [7]
    assert cursor.offer(message(4)) is Offer.HELD
    assert seqs(cursor.accept_fetched([message(4), message(5), message(6)])) == [4, 5, 6]
    out, again = cursor.drain_pending()
    assert seqs(out) == [7] and not again  # the held 4 was already sent from the fetch
    assert cursor.pos == 7 and not cursor.fetching


def test_a_fetch_that_finds_nothing_keeps_the_gap_open() -> None:
    cursor = StreamCursor(0)
    cursor.offer(message(2))
    assert cursor.accept_fetched([]) == []
    out, again = cursor.drain_pending()
    assert out == [] and again  # seq 1 is still missing: 2 keeps waiting
    assert cursor.accept_fetched([message(1)]) != []
    out, again = cursor.drain_pending()
    assert seqs(out) == [2] and not again


def test_no_seq_is_ever_given_twice_or_out_of_order() -> None:
    # Live messages, duplicates and fetches interleaved: what goes out is 1..n once each.
    cursor = StreamCursor(0)
    given: list[int] = []
    store = [message(s) for s in range(1, 21)]
    live = [1, 2, 2, 5, 3, 4, 6, 9, 7, 8, 10, 10, 15, 11, 20, 12, 13, 14, 16, 17, 18, 19]
    for seq in live:
        outcome = cursor.offer(message(seq))
        if outcome is Offer.SEND:
            given.append(seq)
        if outcome is Offer.GAP:  # the fetch runs to its end before the next live message
            again = True
            while again:
                given += seqs(cursor.accept_fetched(store[cursor.pos : cursor.pos + 3]))
                out, again = cursor.drain_pending()
                given += seqs(out)
    assert given == list(range(1, 21))
    assert cursor.pos == 20 and not cursor.fetching and cursor.pending == []
