"""What a thread reply asks for (bots/core/commands.py)."""

from __future__ import annotations

import pytest

from bots.core.commands import (
    Intent,
    Request,
    no_single_match,
    read_reply,
    resolve_target,
    transfer_options,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there", Request(Intent.REPLY, "Hello there")),
        ("note: call back tomorrow", Request(Intent.NOTE, "call back tomorrow")),
        ("NOTE:  mixed case", Request(Intent.NOTE, "mixed case")),
        ("!claim", Request(Intent.CLAIM)),
        ("!close", Request(Intent.CLOSE)),
        ("!transfer  Billing team ", Request(Intent.TRANSFER, "Billing team")),
        ("!claiming is fun", Request(Intent.REPLY, "!claiming is fun")),
        ("   ", None),
        ("note:", None),
        ("!transfer", None),
    ],
)
def test_read_reply(text: str, expected: Request | None) -> None:
    assert read_reply(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/claim", Request(Intent.CLAIM)),
        ("/CLOSE", Request(Intent.CLOSE)),
        ("/transfer Billing", Request(Intent.TRANSFER, "Billing")),
        ("/note call back", Request(Intent.NOTE, "call back")),
        ("note: call back", Request(Intent.NOTE, "call back")),
        ("/start", None),  # strict: a /word for no command is not sent to the visitor
        ("/note", None),
        ("!claim", Request(Intent.REPLY, "!claim")),
        ("1/2 done", Request(Intent.REPLY, "1/2 done")),
    ],
)
def test_read_reply_with_slash_commands(text: str, expected: Request | None) -> None:
    assert read_reply(text, prefix="/", strict=True) == expected


def test_note_is_a_command_too() -> None:
    assert read_reply("!note check first") == Request(Intent.NOTE, "check first")


def test_resolve_target_by_department_agent_name_or_email() -> None:
    agents = [
        {"id": "a1", "name": "Bo Li", "email": "bo@x.test"},
        {"id": "a2", "name": "Old", "email": "old@x.test", "disabled": True},
    ]
    departments = [{"id": "d1", "name": "Billing"}]
    assert [t.id for t in resolve_target("billing", agents, departments)] == ["d1"]
    assert [t.id for t in resolve_target("@Bo Li", agents, departments)] == ["a1"]
    assert [t.id for t in resolve_target("BO@x.test", agents, departments)] == ["a1"]
    assert resolve_target("old", agents, departments) == []
    assert resolve_target("nobody", agents, departments) == []


def test_at_and_hash_tell_an_agent_from_a_department_of_the_same_name() -> None:
    agents = [{"id": "a1", "name": "Sales", "email": "sales@x.test"}]
    departments = [{"id": "d1", "name": "Sales"}]
    both = resolve_target("sales", agents, departments)
    assert [t.kind for t in both] == ["department", "agent"]
    assert [t.id for t in resolve_target("@sales", agents, departments)] == ["a1"]
    assert [t.id for t in resolve_target("#Sales", agents, departments)] == ["d1"]
    told = no_single_match("sales", both, agents, departments)
    assert "the department Sales" in told and "the agent Sales (sales@x.test)" in told
    assert "@name" in told and "#name" in told


def test_unknown_names_are_answered_with_the_names_there_are() -> None:
    agents = [{"id": f"a{n}", "name": f"Agent {n:02}"} for n in range(12)]
    told = no_single_match("nobody", [], agents, [{"id": "d1", "name": "Billing"}])
    assert told.startswith("No agent or department is named 'nobody'.")
    assert "Departments: Billing." in told and "Agent 00" in told and "and 2 more" in told


def test_options_list_departments_then_agents_by_presence() -> None:
    agents = [
        {"id": "a1", "name": "Zed", "status": "online", "connected": True},
        {"id": "a2", "name": "Amy", "status": "online", "connected": False},
        {"id": "a3", "name": "Bob", "status": "away", "connected": True},
        {"id": "a4", "name": "Cat", "status": "online", "connected": True},
        {"id": "a5", "name": "Old", "disabled": True},
    ]
    depts, people = transfer_options(agents, [{"id": "d2", "name": "b"}, {"id": "d1", "name": "A"}])
    assert [d.id for d in depts] == ["d1", "d2"]
    assert [(p.name, p.presence) for p in people] == [
        ("Cat", "online"),
        ("Zed", "online"),
        ("Bob", "away"),
        ("Amy", "offline"),  # chose online but has no connection open
    ]
