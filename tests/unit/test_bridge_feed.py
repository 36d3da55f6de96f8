"""The sans-I/O parts of the bridge principal: which tenant events a bridge gets and how
its following changes (server/chat/bridge_feed.py), and link-code handling."""

from __future__ import annotations

from typing import Any

from server.admin.bridge_links import CODE_ALPHABET, code_hash, new_code, normalize_code
from server.chat.bridge_feed import DELIVER, DROP, LOOKUP, BridgeFeed, Verdict

MINE, THEIRS = "dept-mine", "dept-theirs"


def event(name: str, conv: str | None = "c1", **data: Any) -> dict[str, Any]:
    return {"type": "event", "name": name, "conv": conv, "data": data}


def test_a_whole_tenant_bridge_gets_everything_and_follows_what_it_sees() -> None:
    feed = BridgeFeed(None)
    assert feed.decide(event("conv.queued", department=None), followed=False) == Verdict(
        deliver=True, follow=True)
    assert feed.decide(event("conv.assigned"), followed=True) == DELIVER
    assert feed.decide(event("conv.updated"), followed=False) == Verdict(deliver=True,
                                                                       follow=True)
    assert feed.decide(event("conv.closed"), followed=True) == Verdict(deliver=True, finish=True)
    assert feed.decide(event("conv.closed"), followed=False) == DELIVER
    assert feed.decide(event("agent.status", conv=None), followed=False) == DELIVER


def test_a_department_bridge_learns_departments_from_events() -> None:
    feed = BridgeFeed(frozenset({MINE}))
    assert feed.decide(event("conv.queued", department=THEIRS), followed=False) == DROP
    assert feed.decide(event("conv.updated"), followed=False) == DROP  # learned: theirs
    assert feed.decide(event("conv.closed"), followed=False) == DROP
    moved_in = event("conv.transferred", to_department={"id": MINE, "name": "Mine"})
    assert feed.decide(moved_in, followed=False) == Verdict(deliver=True, follow=True)
    assert feed.decide(event("conv.assigned"), followed=True) == DELIVER
    moved_out = event("conv.transferred", to_department={"id": THEIRS, "name": "Theirs"})
    assert feed.decide(moved_out, followed=True) == Verdict(deliver=True, unfollow=True)
    assert feed.decide(event("conv.queued", department=THEIRS), followed=False) == DROP
    # A conversation without a department is outside a department scope.
    assert feed.decide(event("conv.queued", conv="c2", department=None), followed=False) == DROP


def test_a_department_bridge_looks_up_what_it_does_not_know() -> None:
    feed = BridgeFeed(frozenset({MINE}))
    assert feed.decide(event("conv.assigned"), followed=False) == LOOKUP
    to_agent = event("conv.transferred", to_agent={"id": "a1"})
    assert feed.decide(to_agent, followed=False) == LOOKUP  # names no department
    feed.learn("c1", MINE)
    assert feed.decide(event("conv.assigned"), followed=False) == Verdict(deliver=True,
                                                                        follow=True)
    assert feed.decide(event("agent.presence", conv=None), followed=False) == DELIVER


def test_a_label_change_is_delivered_in_scope_but_never_starts_a_following() -> None:
    # Any agent may label an old, closed conversation: the bridge is told, not replayed it.
    whole = BridgeFeed(None)
    assert whole.decide(event("conv.labels", labels=["vip"]), followed=False) == DELIVER
    assert whole.decide(event("conv.labels", labels=["vip"]), followed=True) == DELIVER
    scoped = BridgeFeed(frozenset({MINE}))
    assert scoped.decide(event("conv.labels"), followed=False) == LOOKUP
    scoped.learn("c1", MINE)
    assert scoped.decide(event("conv.labels"), followed=False) == DELIVER
    scoped.learn("c2", THEIRS)
    assert scoped.decide(event("conv.labels", conv="c2"), followed=False) == DROP


def test_link_codes_are_60_random_bits_typed_forgivingly() -> None:
    code = new_code()
    groups = code.split("-")
    assert [len(g) for g in groups] == [4, 4, 4]
    assert all(ch in CODE_ALPHABET for ch in "".join(groups))
    assert len({new_code() for _ in range(200)}) == 200
    plain = "".join(groups)
    for typed in (code, code.lower(), plain, f"  {groups[0]} {groups[1]} {groups[2]} "):
        assert normalize_code(typed) == plain
    assert normalize_code("OIL0-0000-0000") == "0110" + "0" * 8  # O→0, I and L→1
    for bad in ("", "ABCD-EFGH-JKM", "ABCD-EFGH-JKMNP", "ABCD-EFGH-JKU!", "ABCD-EFGH-JKMU"):
        assert normalize_code(bad) is None, bad
    assert code_hash(plain) != plain and len(code_hash(plain)) == 64
