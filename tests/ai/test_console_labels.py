"""The agent console labels the robot (issue #20): its messages read "<name> (AI)", a
conversation it holds is "with <name> (AI)" in the lists, and an agent's accept
afterwards shows the person again."""

from __future__ import annotations

from tests.support.console_events import apply_event
from tui_agent.desk import Desk
from tui_agent.models import ChatMessage, Person
from tui_agent.widgets.conversation_log import ConversationLog

ROBOT = {"type": "ai", "id": "bridge-1", "name": "Aiko"}


def said_by(sender: Person, body: str = "Hello") -> ChatMessage:
    return ChatMessage("c1", "m1", 1, "2026-12-07T01:00:00.000Z", "text", body, "", sender)


def test_ai_messages_are_labelled_and_a_name_cannot_pose_as_markup() -> None:
    line = ConversationLog._message(said_by(Person("ai", "bridge-1", "Aiko")), "agent-1", 0)
    assert line.plain.endswith("Aiko (AI): Hello")
    person = ConversationLog._message(said_by(Person("agent", "agent-2", "Aiko")), "agent-1", 0)
    assert "(AI)" not in person.plain
    hostile = ConversationLog._message(said_by(Person("ai", "b", "[red]Ann[/red]")), "a", 0)
    assert "[red]Ann[/red] (AI):" in hostile.plain  # shown as text, not as markup


def test_a_conversation_held_by_the_robot_then_taken_by_a_person() -> None:
    desk = Desk()
    desk.me_id = "agent-1"
    apply_event(desk, "conv.queued", "c1", {"visitor": {"id": "v1", "name": "Vera"}})
    apply_event(desk, "conv.assigned", "c1", {"assignee": ROBOT, "last_seq": 1})
    conv = desk.get("c1")
    assert conv.assignee is not None and conv.assignee.type == "ai"
    assert conv.assignee.name == "Aiko"
    assert conv.notes[-1].text == "Assigned to Aiko (AI)"
    person = {"type": "agent", "id": "agent-1", "name": "Me"}
    apply_event(desk, "conv.assigned", "c1", {"agent": person, "assignee": person})
    assert conv.assignee.type == "agent" and conv.assignee.id == "agent-1"
