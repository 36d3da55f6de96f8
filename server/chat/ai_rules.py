"""Where the AI robot may write (docs/bridges.md, "Kind ai").

A robot's message goes only into an open conversation that it holds, or that is waiting
unassigned. The group-commit writer asks ``robot_may_write`` inside its transaction, on
the row it has locked, so a person's accept on another node is seen by the next send.
"""

from __future__ import annotations

from typing import Any

from server.errors import Forbidden
from server.kernel.enums import ROBOT_ASSIGNEE, ConversationStatus, SenderType

AI = SenderType.AI.value


class TakenOver(Forbidden):
    """A person holds the conversation now: the robot stops writing (its socket stays)."""

    def extra(self) -> dict[str, Any]:
        return {"reason": "taken_over"}


def robot_may_write(
    robot_id: str, status: str, assignee_id: str | None, assignee_type: str | None
) -> bool:
    if status == ConversationStatus.CLOSED.value:
        return False
    if assignee_type == ROBOT_ASSIGNEE:
        return assignee_id == robot_id
    return status == ConversationStatus.QUEUED.value and assignee_id is None


def taken_over() -> TakenOver:
    return TakenOver("a person has taken this conversation over")
