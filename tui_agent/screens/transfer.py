"""Transfer a conversation to another agent (list from REST) or to a department."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from tui_agent.messages import TransferChoice
from tui_agent.models import AgentInfo
from tui_agent.untrusted import clean, safe_text

STATUS_MARK = {"online": ("●", "green"), "away": ("◐", "yellow"), "offline": ("○", "dim")}


class TransferScreen(ModalScreen[TransferChoice | None]):
    BINDINGS = [("escape", "dismiss", "Cancel")]

    def __init__(
        self,
        title: str,
        agents: Sequence[AgentInfo] | None,
        me_id: str,
        departments: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.title_text = title
        self.agents = [a for a in agents or () if a.id != me_id]
        self.agents_known = agents is not None
        self.departments = departments

    def compose(self) -> ComposeResult:
        with Vertical(id="transfer-box", classes="dialog") as box:
            box.border_title = safe_text(f"Transfer {self.title_text}", width=60)
            box.border_subtitle = "enter transfers, escape cancels"
            yield Label("To an agent (up / down, enter):")
            options = [Option(self._label(a), id=a.id) for a in self.agents]
            if not options:
                why = (
                    "no other agents"
                    if self.agents_known
                    else "the server has no agent list (GET /api/v1/agents)"
                )
                options = [Option(Text(why, style="dim"), disabled=True)]
            yield OptionList(*options, id="transfer-agents")
            yield Label("Or to a department (its id, enter):")
            hint = ", ".join(self.departments) if self.departments else "department id"
            yield Input(placeholder=clean(hint), id="transfer-department")
            yield Label("Note for the next agent (optional):")
            yield Input(placeholder="what they should know", id="transfer-note")

    @staticmethod
    def _label(agent: AgentInfo) -> Text:
        mark, style = STATUS_MARK.get(agent.status, ("?", "dim"))
        text = safe_text(f"{mark} ", style)
        text.append_text(safe_text(agent.display_name, "bold", width=30))
        text.append_text(safe_text(f"  {agent.email}  {agent.status or 'unknown'}", "dim"))
        return text

    def on_mount(self) -> None:
        if self.agents:
            self.query_one("#transfer-agents", OptionList).focus()
        else:
            self.query_one("#transfer-department", Input).focus()

    def _note(self) -> str:
        return self.query_one("#transfer-note", Input).value.strip()

    @on(OptionList.OptionSelected, "#transfer-agents")
    def _agent(self, event: OptionList.OptionSelected) -> None:
        agent = next((a for a in self.agents if a.id == event.option.id), None)
        if agent is not None:
            self.dismiss(
                TransferChoice(to_agent=agent.id, note=self._note(), label=agent.display_name)
            )

    @on(Input.Submitted, "#transfer-department")
    def _department(self, event: Input.Submitted) -> None:
        department = event.value.strip()
        if department:
            self.dismiss(
                TransferChoice(to_department=department, note=self._note(), label=department)
            )

    @on(Input.Submitted, "#transfer-note")
    def _note_done(self) -> None:
        department = self.query_one("#transfer-department", Input).value.strip()
        options = self.query_one("#transfer-agents", OptionList)
        if department:
            self.dismiss(
                TransferChoice(to_department=department, note=self._note(), label=department)
            )
        elif self.agents and options.highlighted is not None:
            agent = self.agents[options.highlighted]
            self.dismiss(
                TransferChoice(to_agent=agent.id, note=self._note(), label=agent.display_name)
            )
