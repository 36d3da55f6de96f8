"""What a thread reply asks for (bots/core/commands.py)."""

from __future__ import annotations

import pytest

from bots.core.commands import Intent, Request, read_reply, resolve_target


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
