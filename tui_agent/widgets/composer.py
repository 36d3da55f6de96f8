"""The message box: reply or private note, ``/shortcut`` canned replies, typing signals."""

from __future__ import annotations

import time

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from tui_agent.canned import CannedReply, CannedSet, placeholder_values
from tui_agent.messages import ComposerSubmitted, ComposerTyping
from tui_agent.untrusted import clean, safe_text

TYPING_REFRESH_SECS = 3.0  # re-send "typing" this often while keys keep coming
TYPING_IDLE_SECS = 5.0  # "stopped typing" after this long without a key


class Composer(Vertical):
    BINDINGS = [
        Binding("tab", "complete", "Complete", show=False),
        Binding("up", "suggestion(-1)", show=False),
        Binding("down", "suggestion(1)", show=False),
        Binding("escape", "dismiss_suggestions", show=False),
    ]

    note_mode: reactive[bool] = reactive(False)
    blocked: reactive[str] = reactive("")  # why there is nothing to write into, if so

    def __init__(self, canned: CannedSet, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.canned = canned
        self.visitor_name = ""
        self.visitor_email = ""
        self.agent_name = ""
        self.conv_id = ""
        self._typing = False
        self._typing_sent_at = 0.0
        self._idle_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield OptionList(id="suggestions")
        yield Input(
            placeholder="Reply to the visitor (enter sends, /shortcut for canned)",
            id="message-input",
        )

    def on_mount(self) -> None:
        self.query_one("#suggestions", OptionList).display = False
        self._update_look()

    @property
    def input(self) -> Input:
        return self.query_one("#message-input", Input)

    @property
    def suggestions(self) -> OptionList:
        return self.query_one("#suggestions", OptionList)

    def watch_note_mode(self) -> None:
        self._update_look()

    def watch_blocked(self) -> None:
        self._update_look()

    def _update_look(self) -> None:
        if not self.is_mounted:
            return
        self.set_class(self.note_mode, "-note")
        box = self.input
        box.disabled = bool(self.blocked)
        if self.blocked:
            box.placeholder = clean(self.blocked)
        elif self.note_mode:
            box.placeholder = "Private note, only agents see it (ctrl+o: back to reply)"
        else:
            box.placeholder = "Reply to the visitor (enter sends, /shortcut for canned)"
        self.border_title = "Private note" if self.note_mode else "Reply"

    def focus_input(self) -> None:
        if not self.blocked:
            self.input.focus()

    def set_draft(self, text: str) -> None:
        self._stop_typing()
        with self.prevent(Input.Changed):
            self.input.value = text
        self.input.cursor_position = len(text)
        self._hide_suggestions()

    # ------------------------------------------------------------------ canned replies

    @on(Input.Changed, "#message-input")
    def _changed(self, event: Input.Changed) -> None:
        value = event.value
        if value.startswith("/") and " " not in value:
            self._show_suggestions(value[1:])
        else:
            self._hide_suggestions()
        self._typed(value)

    def _show_suggestions(self, query: str) -> None:
        matches = self.canned.complete(query)
        box = self.suggestions
        box.clear_options()
        if not matches:
            box.display = False
            return
        for reply in matches:
            label = safe_text(f"/{reply.shortcut}", "bold")
            if reply.scope == "personal":
                label.append_text(safe_text(" (mine)", "italic"))
            width = max(20, self.size.width - len(reply.shortcut) - 8)
            label.append("  ")
            rendered = self._filled(reply)
            label.append_text(safe_text(rendered, "dim", width=width))
            box.add_option(Option(label, id=reply.key))
        box.highlighted = 0
        box.display = True

    def _filled(self, reply: CannedReply) -> str:
        return reply.render(
            placeholder_values(self.visitor_name, self.visitor_email, self.agent_name, self.conv_id)
        )

    def _hide_suggestions(self) -> None:
        if self.is_mounted:
            self.suggestions.display = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("complete", "suggestion", "dismiss_suggestions"):
            return bool(self.suggestions.display)  # else the key does its usual job
        return True

    def action_suggestion(self, step: int) -> None:
        box = self.suggestions
        count = box.option_count
        if count:
            box.highlighted = ((box.highlighted or 0) + step) % count

    def action_dismiss_suggestions(self) -> None:
        self._hide_suggestions()

    def action_complete(self) -> None:
        box = self.suggestions
        if box.highlighted is None:
            return
        shortcut = box.get_option_at_index(box.highlighted).id or ""
        reply = self.canned.find(shortcut)
        if reply is not None:
            self.set_draft(self._filled(reply))

    @on(OptionList.OptionSelected, "#suggestions")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_complete()
        self.focus_input()

    # ------------------------------------------------------------------ sending

    @on(Input.Submitted, "#message-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.suggestions.display:  # enter on "/shortcut" expands it; enter again sends
            self.action_complete()
            return
        text = event.value.strip()
        if not text:
            return
        if text.startswith("/") and " " not in text and self.canned.find(text[1:]):
            reply = self.canned.find(text[1:])
            assert reply is not None
            self.set_draft(self._filled(reply))
            return
        self.set_draft("")
        self.post_message(ComposerSubmitted(text))

    # ------------------------------------------------------------------ typing signal

    def _typed(self, value: str) -> None:
        if self.note_mode or not value or value.startswith("/"):
            self._stop_typing()
            return
        loop_time = time.monotonic()
        if not self._typing or loop_time - self._typing_sent_at >= TYPING_REFRESH_SECS:
            self._typing = True
            self._typing_sent_at = loop_time
            self.post_message(ComposerTyping(True))
        if self._idle_timer is not None:
            self._idle_timer.stop()
        self._idle_timer = self.set_timer(TYPING_IDLE_SECS, self._stop_typing)

    def _stop_typing(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.stop()
            self._idle_timer = None
        if self._typing:
            self._typing = False
            self.post_message(ComposerTyping(False))
