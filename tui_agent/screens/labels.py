"""Labels of the open conversation: add one (with the tenant's labels to pick from),
remove one. Every change goes to the server at once; the dialog shows its answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui_agent.client import ApiError
from tui_agent.untrusted import safe_text

LabelChange = Callable[[str], Awaitable[list[str]]]  # the conversation's labels after it


class LabelsScreen(ModalScreen[tuple[str, ...]]):
    """Dismissed with the conversation's labels as the server last answered."""

    BINDINGS = [Binding("escape", "done", "Done")]

    def __init__(
        self,
        title: str,
        labels: Sequence[str],
        known: Sequence[str],
        add: LabelChange,
        remove: LabelChange,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.labels = tuple(labels)
        self.known = list(known)  # the tenant's labels, most used first
        self.add = add
        self.remove_label = remove

    def compose(self) -> ComposeResult:
        with Vertical(id="labels-box", classes="dialog") as box:
            box.border_title = safe_text(f"Labels of {self.title_text}", width=60)
            box.border_subtitle = "enter adds; on a label, enter removes it; escape closes"
            yield Label("Add a label (right arrow completes a known one):")
            yield Input(
                id="label-input",
                max_length=50,
                suggester=SuggestFromList(self.known, case_sensitive=False),
            )
            yield Static("", id="label-problem")
            yield Label("On this conversation (enter removes):")
            yield OptionList(id="label-list")

    def on_mount(self) -> None:
        self._show()
        self.query_one("#label-input", Input).focus()

    def _show(self) -> None:
        box = self.query_one("#label-list", OptionList)
        box.clear_options()
        if not self.labels:
            box.add_option(Option(Text("none yet", style="dim"), disabled=True))
        for index, label in enumerate(self.labels):
            box.add_option(Option(safe_text(label, "bold"), id=f"label-{index}"))
        box.highlighted = 0 if self.labels else None

    def _problem(self, text: str) -> None:
        self.query_one("#label-problem", Static).update(safe_text(text, "red"))

    @on(Input.Submitted, "#label-input")
    def _add(self, event: Input.Submitted) -> None:
        label = event.value.strip()
        if label:
            event.input.value = ""
            self._change(self.add, label)

    @on(OptionList.OptionSelected, "#label-list")
    def _remove(self, event: OptionList.OptionSelected) -> None:
        index = int((event.option.id or "label-0").removeprefix("label-"))
        if index < len(self.labels):
            self._change(self.remove_label, self.labels[index])

    @work(exclusive=True, group="labels", exit_on_error=False)
    async def _change(self, change: LabelChange, label: str) -> None:
        try:
            self.labels = tuple(await change(label))
        except ApiError as exc:  # the server's refusal, said in its own words
            self._problem(f"Not changed: {exc.message}")
            return
        self._problem("")
        self._show()

    def action_done(self) -> None:
        self.dismiss(self.labels)
