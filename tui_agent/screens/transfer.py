"""Transfer a conversation to a department or another agent, both picked by name.

Departments come from ``GET /api/v1/departments`` (never an id to type); agents from
``GET /api/v1/agents``, their status kept live while the dialog is open (``agent.status``
and ``agent.presence`` events, read from the desk twice a second).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from tui_agent.messages import TransferChoice
from tui_agent.models import AgentInfo
from tui_agent.untrusted import safe_text

STATUS_MARK = {"online": ("●", "green"), "away": ("◐", "yellow"), "offline": ("○", "dim")}
PRESENCE_REFRESH_SECS = 0.5
DEPT = "dept:"
AGENT = "agent:"

Presence = Callable[[AgentInfo], str]  # an agent's status now ("online", "away", ...)


def _indented(text: Text) -> Text:
    text.pad_left(2)
    return text


def listed_status(agent: AgentInfo) -> str:
    return agent.status


class TransferScreen(ModalScreen[TransferChoice | None]):
    BINDINGS = [("escape", "dismiss", "Cancel")]

    def __init__(
        self,
        title: str,
        agents: Sequence[AgentInfo] | None,
        me_id: str,
        departments: Sequence[tuple[str, str]] | None = (),
        presence: Presence = listed_status,
        connected: Callable[[AgentInfo], bool] = lambda agent: False,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.agents = [a for a in agents or () if a.id != me_id]
        self.agents_known = agents is not None
        self.departments = list(departments or ())  # (id, name), by name
        self.departments_known = departments is not None
        self.presence = presence
        self.presence_connected = connected
        self._shown: dict[str, str] = {}  # agent id -> status drawn

    def compose(self) -> ComposeResult:
        with Vertical(id="transfer-box", classes="dialog") as box:
            box.styles.width = 100  # wider than a dialog: name, live status, e-mail
            box.border_title = safe_text(f"Transfer {self.title_text}", width=60)
            box.border_subtitle = "enter transfers, tab to the note, escape cancels"
            yield Label("To a department or an agent (up / down, enter):")
            yield OptionList(*self._options(), id="transfer-targets")
            yield Label("Note for the next agent (optional; enter transfers):")
            yield Input(placeholder="what they should know", id="transfer-note")

    def _options(self) -> list[Option]:
        options: list[Option] = [Option(Text("Departments", style="bold underline"), disabled=True)]
        if self.departments:
            options += [
                Option(_indented(safe_text(name, width=50)), id=DEPT + dept_id)
                for dept_id, name in self.departments
            ]
        else:
            why = "none" if self.departments_known else "the server did not list them"
            options.append(Option(safe_text(f"  {why}", "dim"), disabled=True))
        options.append(Option(Text("Agents", style="bold underline"), disabled=True))
        if self.agents:
            options += [Option(self._label(a), id=AGENT + a.id) for a in self.agents]
        else:
            why = (
                "no other agents"
                if self.agents_known
                else "the server has no agent list (GET /api/v1/agents)"
            )
            options.append(Option(safe_text(f"  {why}", "dim"), disabled=True))
        return options

    def _label(self, agent: AgentInfo) -> Text:
        status = self.presence(agent) or "unknown"
        self._shown[agent.id] = status + str(self.presence_connected(agent))
        mark, style = STATUS_MARK.get(status, ("?", "dim"))
        connected = self.presence_connected(agent)
        text = Text("  ").append_text(safe_text(f"{mark} ", style))
        name = safe_text(agent.display_name, "bold", width=28)
        name.pad_right(30 - name.cell_len)
        text.append_text(name)
        shown = status + (" · console open" if connected else "")
        state = safe_text(shown, style, width=24)
        state.pad_right(26 - state.cell_len)
        text.append_text(state)
        text.append_text(safe_text(agent.email, "dim", width=40))
        return text

    def on_mount(self) -> None:
        targets = self.query_one("#transfer-targets", OptionList)
        targets.focus()
        first = next(
            (i for i in range(targets.option_count) if not targets.get_option_at_index(i).disabled),
            None,
        )
        targets.highlighted = first
        self.set_interval(PRESENCE_REFRESH_SECS, self.refresh_presence)

    def refresh_presence(self) -> None:
        """Redraw the agents whose status changed since drawn."""
        targets = self.query_one("#transfer-targets", OptionList)
        for agent in self.agents:
            now = (self.presence(agent) or "unknown") + str(self.presence_connected(agent))
            if now != self._shown.get(agent.id):
                targets.replace_option_prompt(AGENT + agent.id, self._label(agent))

    def status_of(self, agent_id: str) -> str:
        """The status drawn for the agent now (with "True" when a console is open)."""
        return self._shown.get(agent_id, "")

    def _choice(self, option_id: str | None) -> TransferChoice | None:
        note = self.query_one("#transfer-note", Input).value.strip()
        if option_id and option_id.startswith(DEPT):
            dept_id = option_id.removeprefix(DEPT)
            name = dict(self.departments).get(dept_id, "")
            return TransferChoice(to_department=dept_id, note=note, label=name)
        if option_id and option_id.startswith(AGENT):
            agent = next((a for a in self.agents if a.id == option_id.removeprefix(AGENT)), None)
            if agent is not None:
                return TransferChoice(to_agent=agent.id, note=note, label=agent.display_name)
        return None

    @on(OptionList.OptionSelected, "#transfer-targets")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        choice = self._choice(event.option.id)
        if choice is not None:
            self.dismiss(choice)

    @on(Input.Submitted, "#transfer-note")
    def _note_done(self) -> None:
        targets = self.query_one("#transfer-targets", OptionList)
        if targets.highlighted is not None:
            choice = self._choice(targets.get_option_at_index(targets.highlighted).id)
            if choice is not None:
                self.dismiss(choice)
