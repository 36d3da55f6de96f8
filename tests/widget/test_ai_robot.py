"""The widget with the AI robot (issue #20): the robot's answers are labelled as an AI
assistant (never as a person), and "Talk to a person" shows while a robot holds the chat
and hands it to the agents when clicked (the server's ``handoff`` frame)."""

from __future__ import annotations

import pytest

from tests.ai.robot_support import add_articles, running_robot
from tests.support.bridges import token_of
from tests.support.clients import Clients
from tests.support.server import ServerProcess
from tests.widget.helpers import WidgetPage


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"  # the widget and the robot are protocol clients: one backend is enough


PASSWORD = {
    "title": "Resetting your password",
    "body": "On the sign-in page choose Forgot password and we send a reset link.",
    "language": "en",
}


async def test_robot_answers_are_labelled_and_the_button_hands_off(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    demo = widget_server.demo
    assert demo is not None
    admin = await token_of(widget_server, demo.admin, demo)
    await add_articles(widget_server, admin, [PASSWORD])
    agent = await clients.agent(widget_server, demo=demo)
    async with running_robot(widget_server, demo, admin, "Aiko"):
        await widget.goto(widget_server.url + "/")
        await widget.open()
        human = widget.page.get_by_role("button", name="Talk to a person")
        assert await human.is_hidden()  # no robot holds a chat yet
        await widget.send("I forgot my password")
        await widget.wait_text("reset link")
        said = await widget.shadow_eval(
            "return [...root.querySelectorAll('.log li')].map((li) => li.textContent).join('|');"
        )
        assert "Aiko · AI assistant" in said
        header = await widget.shadow_eval("return root.querySelector('.sub').textContent;")
        assert header == "Chatting with Aiko · AI assistant"
        await human.wait_for(state="visible")

        conv = await widget.conversation()
        await human.click()
        moved = await agent.recv_until(
            lambda f: (
                f["type"] == "event"
                and f.get("name") == "conv.transferred"
                and f.get("conv") == conv
            )
        )
        assert moved["data"]["reason"] == "visitor_button"
        await human.wait_for(state="hidden")
