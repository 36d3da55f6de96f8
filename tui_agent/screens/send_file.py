"""Send a file by path: a prompt for the path, checked here before anything is uploaded
(the server still decides size and type by the content)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tui_agent.attachments import FileRefused, file_to_send
from tui_agent.untrusted import safe_text


class SendFileScreen(ModalScreen[Path | None]):
    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.conv_title = title

    def compose(self) -> ComposeResult:
        with Vertical(id="send-file-box", classes="dialog") as box:
            box.border_title = "Send a file"
            box.border_subtitle = "enter: send · escape: cancel"
            yield Static(safe_text(f"To {self.conv_title}", width=70))
            yield Input(placeholder="Path of the file, e.g. ~/label.png", id="send-file-path")
            yield Static("", id="send-file-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            path = file_to_send(event.value)
        except FileRefused as refused:
            self.query_one("#send-file-error", Static).update(safe_text(str(refused), "bold red"))
            return
        self.dismiss(path)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#send-file-error", Static).update("")

    def action_cancel(self) -> None:
        self.dismiss(None)
