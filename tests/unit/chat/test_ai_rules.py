"""Where the AI robot may write (server/chat/ai_rules.py): the rule the group-commit writer
applies on the locked conversation row."""

from __future__ import annotations

import pytest

from server.chat.ai_rules import robot_may_write

ROBOT, OTHER, AGENT = "01robot", "01other", "01agent"


@pytest.mark.parametrize(
    ("status", "assignee", "kind", "allowed"),
    [
        ("queued", None, None, True),  # waiting unassigned
        ("active", ROBOT, "ai", True),  # held by this robot
        ("active", OTHER, "ai", False),  # held by another robot
        ("active", AGENT, None, False),  # a person accepted: taken over
        ("queued", AGENT, None, False),  # not unassigned
        ("closed", ROBOT, "ai", False),
        ("closed", None, None, False),
    ],
)
def test_the_robot_writes_only_where_it_holds_or_nobody_does(
    status: str, assignee: str | None, kind: str | None, allowed: bool
) -> None:
    assert robot_may_write(ROBOT, status, assignee, kind) is allowed
