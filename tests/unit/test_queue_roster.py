"""Who may see a waiting conversation (server/gateway/queue_fanout.py): the rule routing
uses to offer it, plus admins."""

from __future__ import annotations

from server.gateway.queue_fanout import Roster

ROSTER = Roster(
    {"a1": frozenset({"sales"}), "a2": frozenset({"support"})}, frozenset({"sales", "support"})
)


def test_a_staffed_department_is_seen_by_its_members_and_admins() -> None:
    assert ROSTER.may_serve("a1", "agent", "sales")
    assert not ROSTER.may_serve("a2", "agent", "sales")
    assert not ROSTER.may_serve("a3", "agent", "sales")  # in no department
    assert ROSTER.may_serve("a3", "admin", "sales")


def test_no_department_or_an_unstaffed_one_is_seen_by_everyone() -> None:
    assert ROSTER.may_serve("a2", "agent", None)
    assert ROSTER.may_serve("a2", "agent", "billing")


AUTO = Roster(
    {"a1": frozenset({"sales"}), "a2": frozenset({"support"})},
    frozenset({"sales", "support"}),
    {"sales": True, "support": False},
)


def test_a_department_routes_by_its_own_policy_the_rest_by_the_default() -> None:
    assert AUTO.routes_automatically("sales")
    assert not AUTO.routes_automatically("support")
    assert not AUTO.routes_automatically(None)  # the tenant default: manual
    assert not AUTO.routes_automatically("deleted")  # unknown: the default too


def test_summaries_go_to_who_may_serve_an_automatic_queue() -> None:
    assert AUTO.automatic_for("a1", "agent")
    assert not AUTO.automatic_for("a2", "agent")  # only support, which is manual
    assert AUTO.automatic_for("a2", "admin")
    assert not ROSTER.any_automatic and AUTO.any_automatic
