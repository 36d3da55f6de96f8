"""The open conversation's attachments, newest first: save one to the downloads folder
(enter or s) or save and open it with the system's viewer (o)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from steadywire.server_frames import Attachment
from tui_agent.attachments import describe
from tui_agent.client import ApiError
from tui_agent.untrusted import safe_text

Save = Callable[[Attachment], Awaitable[Path]]
Opener = Callable[[Path], None]


def open_with_system(path: Path) -> None:
    """Hand a saved file to the desktop's viewer (xdg-open, open), detached and silent."""
    command = "open" if sys.platform == "darwin" else "xdg-open"
    if shutil.which(command) is None:
        raise OSError(f"{command} not found: open {path} yourself")
    subprocess.Popen(
        [command, str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


class FilesScreen(ModalScreen[None]):
    BINDINGS = [
        ("escape,q", "dismiss", "Close"),
        ("s", "save(False)", "Save"),
        ("o", "save(True)", "Open"),
    ]

    def __init__(self, attachments: Sequence[Attachment], save: Save, opener: Opener) -> None:
        super().__init__()
        self.attachments = list(attachments)
        self.save = save
        self.opener = opener

    def compose(self) -> ComposeResult:
        with Vertical(id="files-box", classes="dialog") as box:
            box.border_title = "Files in this conversation"
            box.border_subtitle = "enter/s: save · o: open · escape: close"
            if self.attachments:
                lines: list[Text] = [describe(a) for a in self.attachments]  # safe_text inside
                yield OptionList(*(Option(line) for line in lines), id="files-list")
            else:
                yield Static("No files in this conversation yet.", classes="hint")
            yield Static("", id="files-status")

    def on_mount(self) -> None:
        if self.attachments:
            self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_save(False)

    def _chosen(self) -> Attachment | None:
        if not self.attachments:
            return None
        index = self.query_one(OptionList).highlighted
        return self.attachments[index or 0]

    def action_save(self, then_open: bool) -> None:
        att = self._chosen()
        if att is not None:
            self._save(att, then_open)

    @work(exclusive=True, group="files", exit_on_error=False)
    async def _save(self, att: Attachment, then_open: bool) -> None:
        status = self.query_one("#files-status", Static)
        status.update(safe_text(f"Saving {att.name}…", "dim", width=70))
        try:
            path = await self.save(att)
        except (ApiError, OSError) as err:
            reason = err.message if isinstance(err, ApiError) else str(err)
            status.update(safe_text(f"Not saved: {reason}", "bold red"))
            return
        status.update(safe_text(f"Saved to {path}", "green"))
        if then_open:
            try:
                self.opener(path)
            except OSError as err:
                status.update(safe_text(f"Saved to {path}; not opened: {err}", "bold red"))
