"""A tab switch is cheap (issue #22: key to screen during a burst): the log keeps what it
drew for a conversation and writes only what arrived since, draws a line without walking
the widget tree, and the visitor panel is plain wrapped lines.

The real widgets in a small Textual app under Pilot, without a server (what they show
comes from the desk model, as on the main screen).
"""

from __future__ import annotations

from rich.style import Style
from textual.app import App, ComposeResult

from tests.tui.test_units import message
from tui_agent.desk import Conversation, Desk
from tui_agent.models import Visitor
from tui_agent.widgets.conversation_log import ConversationLog
from tui_agent.widgets.visitor_panel import VisitorPanel

ME = "agent-1"


class CountingLog(ConversationLog):
    """The real log, counting the messages it formats and the styles it computes."""

    formatted = 0
    styles = 0

    def _message(self, *args: object) -> object:  # type: ignore[override]
        CountingLog.formatted += 1
        return ConversationLog._message(*args)  # type: ignore[arg-type]

    @property
    def rich_style(self) -> Style:
        CountingLog.styles += 1
        return super().rich_style


class Desk2(App[None]):
    CSS = """
    ConversationLog { height: 1fr; }
    VisitorPanel { width: 30; height: 20; border: round white; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield CountingLog(id="log")
        yield VisitorPanel(id="visitor")


def chat(desk: Desk, conv_id: str, count: int) -> Conversation:
    desk.add_messages(conv_id, [message(seq, conv=conv_id) for seq in range(1, count + 1)])
    return desk.get(conv_id)


def shown(log: ConversationLog) -> list[str]:
    return [line.text.rstrip() for line in log.lines]


def bodies(log: ConversationLog) -> list[str]:
    return [line.split("visitor: ", 1)[1] for line in shown(log) if "visitor: " in line]


async def test_switching_back_writes_only_what_arrived_meanwhile() -> None:
    desk = Desk()
    desk.me_id = ME
    first, second = chat(desk, "c1", 40), chat(desk, "c2", 40)
    async with Desk2().run_test(size=(100, 30)) as pilot:
        log = pilot.app.query_one(CountingLog)
        await pilot.pause()
        log.show(first, ME)
        log.show(second, ME)
        await pilot.pause()
        desk.add_messages("c1", [message(41, "news while away", conv="c1")])
        CountingLog.formatted = 0
        log.show(first, ME)
        assert CountingLog.formatted == 1, "only the message that arrived is formatted"
        assert bodies(log) == [f"message {n}" for n in range(1, 41)] + ["news while away"]

        # History below what was drawn arrives while away: drawn again, in order.
        log.show(second, ME)
        desk.add_messages("c1", [message(0, "older", conv="c1")])
        log.show(first, ME)
        assert bodies(log)[:2] == ["older", "message 1"]
        log.show(second, ME)
        assert bodies(log) == [f"message {n}" for n in range(1, 41)], "c2's own lines"


async def test_a_kept_drawing_is_not_used_once_the_conversation_changed_otherwise() -> None:
    desk = Desk()
    desk.me_id = ME
    first, second = chat(desk, "c1", 3), chat(desk, "c2", 3)
    async with Desk2().run_test(size=(100, 30)) as pilot:
        log = pilot.app.query_one(CountingLog)
        await pilot.pause()
        log.show(first, ME)
        log.show(second, ME)
        desk.visitor_read("c1", 3)  # the delivery marks change: every line may differ
        desk.add_pending("c1", "cid-1", "typed here", "text")
        log.show(first, ME)
        assert "… sending" in shown(log)[-1], "drawn again with the pending line"


async def test_drawing_the_log_computes_its_style_once_not_per_line() -> None:
    desk = Desk()
    desk.me_id = ME
    conv = chat(desk, "c1", 60)
    async with Desk2().run_test(size=(100, 44)) as pilot:
        log = pilot.app.query_one(CountingLog)
        await pilot.pause()
        log.show(conv, ME)
        await pilot.pause()
        CountingLog.styles = 0
        log.refresh()
        await pilot.pause()
        assert log.size.height >= 20
        assert CountingLog.styles <= 3, f"{CountingLog.styles} style walks for one draw"


async def test_visitor_panel_folds_long_values_under_their_column() -> None:
    desk = Desk()
    conv = desk.get("c1")
    conv.status = "active"
    conv.visitor = Visitor(
        id="v1",
        name="Iris",
        email="iris@example.com",
        page_url="https://shop.example/cart",
        referrer="https://search.example/?q=help",
        visit_count=1,
    )
    async with Desk2().run_test(size=(100, 30)) as pilot:
        panel = pilot.app.query_one(VisitorPanel)
        await pilot.pause()
        panel.show(conv, ME)
        await pilot.pause()
        text = str(panel.render())
        assert text.splitlines()[:8] == [
            "Name     Iris",
            "E-mail   iris@example.com",
            "Language —",
            "Page     https://shop.exam",
            "         ple/cart",
            "Referrer https://search.ex",
            "         ample/?q=help",
            "Visits   1",
        ]
