"""A small form in a dialog: labelled inputs, enter moves on (and submits on the last),
escape cancels. Passwords never echo."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from tui_agent.screens.login import PasswordInput
from tui_agent.untrusted import clean, safe_text


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    value: str = ""
    password: bool = False
    placeholder: str = ""


class FormScreen(ModalScreen[dict[str, str] | None]):
    BINDINGS = [("escape", "dismiss", "Cancel")]

    def __init__(self, title: str, fields: Sequence[Field], note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.fields = list(fields)
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="admin-form", classes="dialog") as box:
            box.border_title = safe_text(self.title_text, width=60)
            box.border_subtitle = "enter: next / save, escape cancels"
            if self.note:
                yield Static(safe_text(self.note, "dim"))
            for field in self.fields:
                yield Label(safe_text(field.label))
                if field.password:  # dots, and nothing to the clipboard
                    yield PasswordInput(id=f"form-{field.name}")
                    continue
                yield Input(
                    value=clean(field.value),
                    placeholder=clean(field.placeholder),
                    id=f"form-{field.name}",
                )

    def on_mount(self) -> None:
        inputs = list(self.query(Input))
        first_empty = next((box for box in inputs if not box.value), inputs[0] if inputs else None)
        if first_empty is not None:
            first_empty.focus()

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
            return
        self.dismiss({f.name: box.value for f, box in zip(self.fields, inputs, strict=True)})
