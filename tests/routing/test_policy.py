"""OfferPicker: who gets the next offer. Pure logic: no server, no database."""

from __future__ import annotations

from server.routing.policy import Candidate, OfferPicker

RR, LL, MANUAL = "round_robin", "least_loaded", "manual"
pick = OfferPicker().pick


def agent(
    id: str,
    status: str = "online",
    capacity: int = 3,
    load: int = 0,
    departments: tuple[str, ...] = (),
    last: int | None = None,
) -> Candidate:
    return Candidate(id, status, capacity, load, frozenset(departments), last)


def test_manual_departments_never_get_offers() -> None:
    assert pick(MANUAL, None, [agent("a")]) is None


def test_unknown_policy_is_treated_as_manual() -> None:
    assert pick("random", None, [agent("a")]) is None


def test_only_online_agents_get_offers() -> None:
    pool = [agent("a", "away"), agent("b", "offline"), agent("c")]
    assert pick(RR, None, pool) == "c"


def test_all_away_or_offline_gives_nobody() -> None:
    assert pick(RR, None, [agent("a", "away"), agent("b", "offline")]) is None
    assert pick(LL, None, [agent("a", "away")]) is None


def test_agents_at_capacity_get_no_offers() -> None:
    pool = [agent("a", capacity=2, load=2), agent("b", capacity=2, load=1)]
    assert pick(RR, None, pool) == "b"


def test_all_busy_gives_nobody() -> None:
    pool = [agent("a", capacity=1, load=1), agent("b", capacity=2, load=5)]
    assert pick(LL, None, pool) is None


def test_zero_capacity_never_gets_offers() -> None:
    assert pick(RR, None, [agent("a", capacity=0)]) is None


def test_round_robin_never_offered_first_then_longest_ago() -> None:
    pool = [agent("a", last=300), agent("b", last=100), agent("c", last=200)]
    assert pick(RR, None, pool) == "b"
    pool.append(agent("d"))
    assert pick(RR, None, pool) == "d"


def test_round_robin_ties_break_on_id_so_the_order_is_stable() -> None:
    pool = [agent("c"), agent("a"), agent("b")]
    assert pick(RR, None, pool) == "a"
    assert pick(RR, None, list(reversed(pool))) == "a"


def test_round_robin_rotation_visits_everyone_in_turn() -> None:
    last = {"a": None, "b": None, "c": None}
    order = []
    for now in range(1, 7):
        pool = [agent(k, last=v) for k, v in last.items()]
        chosen = pick(RR, None, pool)
        assert chosen is not None
        order.append(chosen)
        last[chosen] = now
    assert order == ["a", "b", "c", "a", "b", "c"]


def test_least_loaded_prefers_fewest_open_conversations() -> None:
    pool = [agent("a", load=2, last=1), agent("b", load=0, last=9), agent("c", load=1)]
    assert pick(LL, None, pool) == "b"


def test_least_loaded_ties_go_round_robin_then_by_id() -> None:
    pool = [agent("a", load=1, last=50), agent("b", load=1, last=10), agent("c", load=3)]
    assert pick(LL, None, pool) == "b"
    assert pick(LL, None, [agent("y", load=1), agent("x", load=1)]) == "x"


def test_agents_already_tried_come_last() -> None:
    pool = [agent("a"), agent("b"), agent("c")]
    assert pick(RR, None, pool, tried=["a"]) == "b"
    assert pick(RR, None, pool, tried=["a", "b"]) == "c"


def test_after_everyone_was_tried_a_new_round_skips_the_last_one() -> None:
    pool = [agent("a"), agent("b")]
    assert pick(RR, None, pool, tried=["a", "b"]) == "a"
    assert pick(RR, None, pool, tried=["b", "a"]) == "b"


def test_never_the_same_agent_twice_in_a_row_unless_alone() -> None:
    assert pick(RR, None, [agent("a"), agent("b")], tried=["a"]) == "b"
    assert pick(RR, None, [agent("a")], tried=["a"]) == "a"
    # b went away: a is alone again.
    assert pick(RR, None, [agent("a"), agent("b", "away")], tried=["a"]) == "a"


def test_department_members_serve_their_department() -> None:
    pool = [agent("a", departments=("sales",)), agent("b", departments=("support",))]
    assert pick(RR, "support", pool) == "b"
    assert pick(RR, "sales", pool) == "a"


def test_offline_members_do_not_open_the_department_to_everyone() -> None:
    pool = [agent("a", "offline", departments=("sales",)), agent("b", departments=("support",))]
    assert pick(RR, "sales", pool) is None


def test_a_department_without_members_is_served_by_everyone() -> None:
    pool = [agent("a", departments=("sales",)), agent("b")]
    assert pick(RR, "empty", pool) == "a"
    assert pick(RR, None, pool) == "a"


def test_no_candidates_at_all() -> None:
    assert pick(RR, None, []) is None


def test_disconnected_agents_get_no_offers_even_if_online() -> None:
    gone = Candidate("a", "online", 3, 0, frozenset(), None, connected=False)
    assert pick(RR, None, [gone, agent("b")]) == "b"
    assert pick(RR, None, [gone]) is None
