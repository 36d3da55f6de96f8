"""The console's sans-I/O parts, without a server: seq bookkeeping, backoff, the desk
model, canned replies and the login cache."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

from textual.events import Key

from tests.support.console_events import apply_event
from tui_agent.canned import CannedReply, load_canned, placeholder_values, server_canned
from tui_agent.config import SavedSession, forget_token, load_logins, load_session, save_session
from tui_agent.desk import Desk, SortedIds
from tui_agent.keys import MAIN_KEYS, help_rows
from tui_agent.models import ChatMessage, ConversationSummary, Person
from tui_agent.notices import NEW_CHAT, NEW_MESSAGE, NoticeBatch
from tui_agent.screens.choose_login import describe
from tui_agent.streams import Backoff, SeqTracker


def message(seq: int, body: str = "", sender: str = "visitor", conv: str = "c1") -> ChatMessage:
    return ChatMessage(
        conv,
        f"m{seq}",
        seq,
        "2026-11-29T08:00:00.000Z",
        "text",
        body or f"message {seq}",
        "",
        Person(sender, f"{sender}-1", sender),
    )


def test_tracker_lets_each_seq_through_once_whatever_the_order() -> None:
    tracker = SeqTracker()
    assert [m.seq for m in tracker.admit([message(3), message(1)])] == [1, 3]
    assert [m.seq for m in tracker.admit([message(1), message(2), message(3), message(4)])] == [
        2,
        4,
    ]
    assert tracker.admit([message(4), message(2)]) == []
    assert tracker.last == 4 and tracker.contiguous == 4


def test_tracker_knows_where_history_has_a_hole() -> None:
    tracker = SeqTracker()
    tracker.admit([message(1), message(5), message(6)])
    assert tracker.last == 6
    assert tracker.contiguous == 1


def test_backoff_grows_with_jitter_is_capped_and_resets() -> None:
    lows = Backoff(base_secs=1.0, cap_secs=8.0, rand=lambda: 0.0)
    highs = Backoff(base_secs=1.0, cap_secs=8.0, rand=lambda: 1.0)
    assert [lows.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert [highs.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    highs.reset()
    assert highs.next_delay() == 1.0


def test_desk_counts_unread_visitor_messages_and_cycles_next_unread() -> None:
    desk = Desk()
    desk.me_id = "agent-1"
    for conv in ("a", "b"):
        apply_event(desk,
            "conv.queued",
            conv,
            {
                "created_at": f"2026-11-29T08:00:0{conv == 'b'}Z",
                "visitor": {"id": f"v-{conv}", "name": conv},
            },
        )
        apply_event(desk, "conv.assigned", conv, {"agent": {"id": "agent-1", "name": "Me"}})
        desk.add_messages(conv, [message(1, conv=conv), message(2, conv=conv)])
    assert [c.id for c in desk.mine()] == ["a", "b"]
    assert desk.get("a").unread == 2
    assert desk.next_unread(None) is desk.get("a")
    assert desk.next_unread("a") is desk.get("b")
    assert desk.mark_read("a") == 2 and desk.get("a").unread == 0
    assert desk.next_unread("b") is desk.get("b")


def test_desk_takes_a_label_change_only_for_a_chat_it_holds() -> None:
    desk = Desk()
    apply_event(desk, "conv.queued", "x", {"visitor": {"id": "v", "name": "Zoë"}})
    by = {"type": "agent", "id": "agent-2", "name": "Colleague"}
    apply_event(desk, "conv.labels", "x", {"labels": ["refund", "vip"], "by": by})
    assert desk.get("x").labels == ("refund", "vip")
    apply_event(desk, "conv.labels", "x", {"labels": [], "by": by})
    assert desk.get("x").labels == ()
    # Every agent hears of every label change: another chat's is not made a chat here.
    apply_event(desk, "conv.labels", "elsewhere", {"labels": ["vip"], "by": by})
    assert "elsewhere" not in desk.conversations


def test_desk_keeps_the_newest_labels_whatever_order_they_arrive_in() -> None:
    """Two colleagues on two nodes: version 3's event comes before version 2's."""
    desk = Desk()
    apply_event(desk, "conv.queued", "x", {"visitor": {"id": "v", "name": "Zoë"}})
    by = {"type": "agent", "id": "agent-2", "name": "Colleague"}
    apply_event(desk, "conv.labels", "x", {"labels": ["a", "b"], "by": by, "version": 3})
    apply_event(desk, "conv.labels", "x", {"labels": ["a"], "by": by, "version": 2})
    assert desk.get("x").labels == ("a", "b")
    # A labels route's older answer, or a list row read before, does not undo it either.
    desk.set_labels("x", ["a"], 2)
    desk.apply_summary(ConversationSummary.from_wire(
        {"id": "x", "status": "queued", "labels": [], "labels_version": 0}))
    assert desk.get("x").labels == ("a", "b")
    apply_event(desk, "conv.labels", "x", {"labels": ["b"], "by": by, "version": 4})
    assert desk.get("x").labels == ("b",)
    # An older server's event has no version: taken as it comes, and the next is too.
    apply_event(desk, "conv.labels", "x", {"labels": ["old"], "by": by})
    assert desk.get("x").labels == ("old",)
    apply_event(desk, "conv.labels", "x", {"labels": ["c"], "by": by, "version": 1})
    assert desk.get("x").labels == ("c",)


def test_desk_search_matches_visitor_fields_and_loaded_messages() -> None:
    desk = Desk()
    apply_event(desk,
        "conv.queued",
        "x",
        {"visitor": {"id": "v", "name": "Zoë Example", "email": "zoe@example.com"}},
    )
    desk.add_messages("x", [message(1, "my parcel never arrived", conv="x")])
    apply_event(desk, "conv.queued", "y", {"visitor": {"id": "w", "name": "Bob"}})
    assert [c.id for c in desk.search("zoe@")] == ["x"]
    assert [c.id for c in desk.search("parcel")] == ["x"]
    assert desk.search("nothing like this") == []


def test_canned_replies_complete_fuzzily_and_fill_in_names(tmp_path: Path) -> None:
    (tmp_path / "canned.json").write_text(
        json.dumps(
            {
                "replies": [
                    {
                        "shortcut": "refund",
                        "body": "Hi {visitor}, your refund is on its way. {agent}",
                    },
                    {"shortcut": "hours", "body": "We are open 9-17."},
                ]
            }
        )
    )
    canned = load_canned(tmp_path)
    assert canned.source.endswith("canned.json")
    assert [r.shortcut for r in canned.complete("ref")] == ["refund"]
    assert [r.shortcut for r in canned.complete("hrs")] == ["hours"]
    reply = canned.find("refund")
    assert reply is not None
    values = placeholder_values("Anna", "anna@example.com", "Bea", "c1")
    # The file's older {visitor}/{agent} are read as the server's placeholders.
    assert reply.render(values) == "Hi Anna, your refund is on its way. Bea"


def test_canned_placeholders_are_the_servers_and_expanded_once() -> None:
    """One syntax and one expansion (steadywire.placeholders) for the server's render
    route and the console: a value is never scanned again, unknown ones stay."""
    reply = CannedReply.from_wire(
        {"id": "r1", "scope": "personal", "shortcut": "x",
         "body": "{visitor.name} <{visitor.email}> / {agent.name} #{conversation.id} {x.y}"}
    )
    assert reply is not None and reply.editable and reply.key == "personal:x"
    values = placeholder_values("{agent.name}", "a@b.c", "Bea", "c9")
    assert reply.render(values) == "{agent.name} <a@b.c> / Bea #c9 {x.y}"
    tenant = CannedReply.from_wire({"id": "r2", "scope": "tenant", "shortcut": "x", "body": "t"})
    assert tenant is not None and not tenant.editable
    both = server_canned([{"id": "r2", "scope": "tenant", "shortcut": "x", "body": "t"},
                          {"id": "r1", "scope": "personal", "shortcut": "x", "body": "p"}])
    found = both.find("x")
    assert both.from_server and found is not None and found.body == "p"  # mine first
    assert [r.id for r in both.personal()] == ["r1"]


def test_canned_replies_fall_back_to_builtins_and_say_why(tmp_path: Path) -> None:
    assert load_canned(tmp_path).source == "built-in"
    (tmp_path / "canned.json").write_text("{not json")
    broken = load_canned(tmp_path)
    assert broken.source == "built-in" and "canned.json" in broken.problem


def test_session_file_is_private_and_round_trips(tmp_path: Path) -> None:
    directory = tmp_path / "cfg"
    path = save_session(
        SavedSession("http://h:1", "t", "e@x", "tok", "2999-01-01T00:00:00Z"), directory
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    loaded = load_session(directory)
    assert loaded.token == "tok" and loaded.token_usable()
    assert not SavedSession(token="t", expires_at="2000-01-01T00:00:00Z").token_usable()


def test_saved_logins_are_a_list_and_an_older_single_login_file_still_reads(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "cfg"
    directory.mkdir()
    old = {"server_url": "http://h:1", "tenant": "t", "email": "a@x", "token": "tok-a",
           "expires_at": "2999-01-01T00:00:00Z", "agent": {"name": "A"}}
    (directory / "session.json").write_text(json.dumps(old))
    assert [s.email for s in load_logins(directory)] == ["a@x"]
    save_session(SavedSession("http://h:1", "t", "b@x", "tok-b", "2999-01-01T00:00:00Z"),
                 directory)
    save_session(SavedSession("http://h:1/", "t", "A@X", "tok-a2", ""), directory)
    logins = load_logins(directory)
    assert [(s.email, s.token) for s in logins] == [("A@X", "tok-a2"), ("b@x", "tok-b")]
    forget_token(directory, logins[1])
    assert [s.token for s in load_logins(directory)] == ["tok-a2", ""]
    forget_token(directory)
    assert [s.token for s in load_logins(directory)] == ["", ""]
    (directory / "session.json").write_text('{"logins": [1, {"email": 5}, {"email": "c@x"}]}')
    assert [s.email for s in load_logins(directory)] == ["c@x"]


def test_a_saved_login_is_described_as_plain_text() -> None:
    hostile = SavedSession("http://h:1", "t[bold]", "e@x\x1b[2J", "", "",
                           {"name": "[red]Eve\x1b]52;c;aGk=\x07"})
    line = describe(hostile)
    assert "\x1b" not in line.plain and "\x07" not in line.plain
    assert "[red]Eve" in line.plain and "t[bold]" in line.plain
    assert line.plain.endswith("password needed")


def test_help_lists_every_key_binding() -> None:
    listed = {keys for keys, _ in help_rows()}
    for key in MAIN_KEYS:
        assert key.keys in listed or key.action.startswith("switch_tab"), key
    assert any("alt+1" in keys for keys in listed)


def test_docs_list_every_key() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "console.md").read_text()
    for key in MAIN_KEYS:
        if not key.action.startswith("switch_tab"):
            assert f"`{key.keys}`" in docs, f"docs/console.md does not list {key.keys}"


def test_alt_digits_arrive_as_keys() -> None:
    from textual._xterm_parser import XTermParser

    from tui_agent.terminal import enable_alt_digits

    enable_alt_digits()
    parser = XTermParser(debug=False)
    keys = list(parser.feed("\x1b3"))
    deadline = time.monotonic() + 2
    while not keys and time.monotonic() < deadline:
        time.sleep(0.02)
        keys = list(parser.tick())
    assert [k.key for k in keys if isinstance(k, Key)] == ["alt+3"]


def test_desk_tells_the_agent_of_offers_made_to_it_and_their_end() -> None:
    desk = Desk()
    desk.me_id = "agent-1"
    apply_event(desk, "conv.queued", "a", {"visitor": {"id": "v-a", "name": "Ann"}})
    apply_event(desk, "conv.queued", "b", {"visitor": {"id": "v-b", "name": "Ben"}})
    assert apply_event(desk, "conv.offered", "a", {"agent": {"id": "agent-2"}}) is None
    notice = apply_event(desk,
        "conv.offered", "b", {"agent": {"id": "agent-1"}, "timeout_secs": 30}
    )
    assert notice is not None and notice.bell and "Ben" in notice.text and "30 s" in notice.text
    assert [c.id for c in desk.offered()] == ["b"]
    moved = apply_event(desk, "conv.offer_expired", "b", {"agent": "agent-1"})
    assert moved is not None and desk.offered() == []
    apply_event(desk, "conv.offered", "b", {"agent": {"id": "agent-1"}})
    apply_event(desk, "conv.assigned", "b", {"agent": {"id": "agent-1", "name": "Me"}})
    assert desk.offered() == [] and not desk.get("b").offered_to_me


def test_sorted_ids_keep_order_as_conversations_come_move_and_go() -> None:
    ids = SortedIds()
    for conv, created in (("c", "3"), ("a", "1"), ("b", "2")):
        assert ids.put(conv, (created, conv))
    assert ids.ids() == ["a", "b", "c"] and ids.index("b") == 1 and ids.at(2) == "c"
    assert not ids.put("b", ("2", "b")), "the same key again is no change"
    ids.put("a", ("4", "a"))
    assert ids.ids() == ["b", "c", "a"] and ids.up_to(("3", "c")) == ["b", "c"]
    assert ids.discard("c") and not ids.discard("c") and len(ids) == 2


def _row(conv: str, created: str, status: str = "queued") -> ConversationSummary:
    return ConversationSummary.from_wire(
        {"id": conv, "status": status, "created_at": created, "visitor": {"id": f"v-{conv}"}}
    )


def test_list_count_is_the_total_plus_what_joined_minus_what_left() -> None:
    desk = Desk()
    desk.me_id = "me"
    rows = [_row("q1", "2026-01-01T00:00:01Z"), _row("q2", "2026-01-01T00:00:02Z")]
    desk.apply_page("queue", rows, 10, "cursor", first=True, since_tick=desk.tick)
    state = desk.lists["queue"]
    assert state.count == 10 and state.more and len(state.ids) == 2
    desk.set_total("queue", 10, "2026-01-01T00:00:10Z")  # the newest it counted
    apply_event(desk, "conv.queued", "old", {"created_at": "2026-01-01T00:00:05Z"})
    assert state.count == 10, "a conversation the total counted (a replay) adds nothing"
    apply_event(desk, "conv.queued", "new", {"created_at": "2026-01-01T00:00:11Z"})
    assert state.count == 11
    apply_event(desk, "conv.assigned", "q1", {"agent": {"id": "me", "name": "Me"}})
    assert state.count == 10 and [c.id for c in desk.mine()] == ["q1"]
    apply_event(desk, "conv.closed", "new", {"by": {"type": "visitor"}})
    assert state.count == 9


def test_a_first_page_drops_what_left_the_list_meanwhile_but_not_newer_news() -> None:
    desk = Desk()
    for conv, created in (("a", "1"), ("b", "2"), ("c", "3")):
        apply_event(desk, "conv.queued", conv, {"created_at": created})
    asked_at = desk.tick
    apply_event(desk, "conv.queued", "d", {"created_at": "0"})  # after the request went out
    desk.apply_page("queue", [_row("a", "1"), _row("c", "3")], 2, None, first=True,
                    since_tick=asked_at)
    assert [c.id for c in desk.queue()] == ["d", "a", "c"]
    assert desk.get("b").status == "" and desk.lists["queue"].complete


def test_notices_arriving_together_are_told_together_with_one_bell_per_kind() -> None:
    batch = NoticeBatch()
    assert batch.add(NEW_CHAT, "Ann") == (True, True)
    assert batch.add(NEW_CHAT, "Bo") == (False, False)
    for name in ("Cy", "Di"):
        batch.add(NEW_CHAT, name)
    assert batch.add(NEW_MESSAGE, "Eve", "are you there?") == (False, True), (
        "a message in one of my chats rings even right after a new chat did"
    )
    assert batch.add(NEW_MESSAGE, "Eve", "hello?") == (False, False)
    told = batch.drain()
    assert [t.message for t in told] == [
        "4 new chats waiting: Ann, Bo, Cy…",
        "2 new messages from: Eve",
    ]
    assert batch.add(NEW_CHAT, "Fay") == (True, True), "a new batch rings again"
