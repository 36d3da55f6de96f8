"""My canned replies (personal, on the server): create, edit and delete them.

The tenant's replies are listed too, read-only (admins edit those in the admin
screens). Placeholders are the server's: ``{visitor.name}``, ``{visitor.email}``,
``{agent.name}``, ``{conversation.id}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from steadywire.placeholders import PLACEHOLDERS
from tui_agent.canned import CannedReply, CannedSet
from tui_agent.client import ApiError
from tui_agent.untrusted import safe_text

NEW = "new"

Save = Callable[[str, str, str], Awaitable[CannedSet]]  # (id or "", shortcut, body)
Delete = Callable[[str], Awaitable[CannedSet]]


class CannedEditorScreen(ModalScreen[CannedSet]):
    """Dismissed with the replies as the server last listed them."""

    BINDINGS = [
        Binding("escape", "done", "Done"),
        Binding("delete", "delete", "Delete", show=False),
    ]
    DEFAULT_CSS = """
    #canned-list { height: auto; max-height: 12; }
    """

    def __init__(self, canned: CannedSet, save: Save, delete: Delete) -> None:
        super().__init__()
        self.canned = canned
        self.save = save
        self.delete_reply = delete
        self.editing = ""  # the id of the reply in the fields; "" for a new one
        self._confirm_delete = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="canned-editor", classes="dialog") as box:
            box.styles.width = 96  # wider than a dialog: the placeholders are listed
            box.border_title = "My canned replies"
            box.border_subtitle = "enter edits; delete (twice) removes; escape closes"
            yield OptionList(id="canned-list")
            yield Label("Shortcut (typed as /shortcut):")
            yield Input(id="canned-shortcut", max_length=64)
            names = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
            yield Label(safe_text(f"Text (placeholders: {names}):"))
            yield Input(id="canned-body", max_length=4000)
            yield Static("", id="canned-problem")

    def on_mount(self) -> None:
        self._show()
        self.query_one("#canned-list", OptionList).focus()

    def _show(self) -> None:
        box = self.query_one("#canned-list", OptionList)
        box.clear_options()
        box.add_option(Option(Text("+ New reply", style="bold green"), id=NEW))
        for reply in self.canned.personal():
            box.add_option(Option(self._row(reply, "mine"), id=reply.id))
        for reply in self.canned.replies:
            if reply.scope == "tenant":
                box.add_option(Option(self._row(reply, "team"), id=f"t:{reply.id}", disabled=True))
        box.highlighted = 0

    @staticmethod
    def _row(reply: CannedReply, whose: str) -> Text:
        text = safe_text(f"/{reply.shortcut}", "bold", width=20)
        text.pad_right(21 - text.cell_len)
        text.append_text(safe_text(f"{whose:<5}", "dim"))
        text.append_text(safe_text(reply.body, width=55))
        return text

    def _problem(self, text: str, style: str = "red") -> None:
        self.query_one("#canned-problem", Static).update(safe_text(text, style))

    @on(OptionList.OptionSelected, "#canned-list")
    def _edit(self, event: OptionList.OptionSelected) -> None:
        reply = next((r for r in self.canned.personal() if r.id == event.option.id), None)
        self.editing = reply.id if reply else ""
        self.query_one("#canned-shortcut", Input).value = reply.shortcut if reply else ""
        self.query_one("#canned-body", Input).value = reply.body if reply else ""
        self.query_one("#canned-shortcut", Input).focus()
        self._problem("")

    @on(Input.Submitted, "#canned-shortcut")
    def _to_body(self) -> None:
        self.query_one("#canned-body", Input).focus()

    @on(Input.Submitted, "#canned-body")
    def _save(self) -> None:
        shortcut = self.query_one("#canned-shortcut", Input).value.strip().lstrip("/")
        body = self.query_one("#canned-body", Input).value.strip()
        if not shortcut or not body:
            self._problem("A reply needs a shortcut and a text.")
            return
        self._write(self.save(self.editing, shortcut, body), f"Saved /{shortcut}.")

    def action_delete(self) -> None:
        box = self.query_one("#canned-list", OptionList)
        if not box.has_focus or box.highlighted is None:
            return
        reply_id = box.get_option_at_index(box.highlighted).id or ""
        reply = next((r for r in self.canned.personal() if r.id == reply_id), None)
        if reply is None:
            return
        if self._confirm_delete != reply.id:  # the first press asks
            self._confirm_delete = reply.id
            self._problem(f"Press delete again to delete /{reply.shortcut}.", "yellow")
            return
        self._confirm_delete = ""
        self._write(self.delete_reply(reply.id), f"Deleted /{reply.shortcut}.")

    @work(exclusive=True, group="canned", exit_on_error=False)
    async def _write(self, change: Awaitable[CannedSet], done: str) -> None:
        try:
            self.canned = await change
        except ApiError as exc:
            self._problem(f"Not saved: {exc.message}")
            return
        self.editing = ""
        self.query_one("#canned-shortcut", Input).value = ""
        self.query_one("#canned-body", Input).value = ""
        self._show()
        self.query_one("#canned-list", OptionList).focus()
        self._problem(done, "green")

    def action_done(self) -> None:
        self.dismiss(self.canned)
