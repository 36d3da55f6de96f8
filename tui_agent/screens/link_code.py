"""A one-time code that links the agent's Slack or Telegram account (docs/bridges.md): the
agent says it to the bridge (Slack ``/steady link CODE``, Telegram ``/link CODE``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui_agent.client import ApiError
from tui_agent.config import parse_time
from tui_agent.untrusted import clean, safe_text

Fetch = Callable[[], Awaitable[dict[str, str]]]


class LinkCodeScreen(ModalScreen[None]):
    BINDINGS = [("escape,enter,q", "dismiss", "Close"), ("n", "fresh", "New code")]

    def __init__(self, fetch: Fetch, *, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.fetch = fetch
        self.clock = clock
        self.code = ""
        self.expires: datetime | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="link-code-box", classes="dialog") as box:
            box.border_title = "Link Slack or Telegram"
            box.border_subtitle = "n: new code · escape: close"
            yield Static("Asking the server for a code…", id="link-code")
            yield Static("", id="link-code-left", classes="hint")
            yield Static("", id="link-code-how")

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        self.action_fresh()

    def action_fresh(self) -> None:
        self._get_code()

    @work(exclusive=True, group="link-code", exit_on_error=False)
    async def _get_code(self) -> None:
        try:
            answer = await self.fetch()
        except ApiError as err:
            self.code, self.expires = "", None
            self._show(safe_text(f"No code: {err.message}", "bold red"), "", "")
            return
        self.code = " ".join(clean(answer["code"]).split())
        self.expires = parse_time(answer["expires_at"])
        self._show(
            safe_text(self.code, "bold reverse"),
            self._left(),
            f"Slack: type  /steady link {self.code}\n"
            f"Telegram: send  /link {self.code}  to the bot (private chat)",
        )

    def _left(self) -> str:
        if self.expires is None:
            return ""
        secs = int((self.expires - self.clock()).total_seconds())
        if secs <= 0:
            return "Expired: press n for a new code."
        return f"Valid once, for {secs // 60}:{secs % 60:02d} more."

    def _tick(self) -> None:
        if self.code:
            self.query_one("#link-code-left", Static).update(safe_text(self._left()))

    def _show(self, code: Text, left: str, how: str) -> None:
        self.query_one("#link-code", Static).update(code)
        self.query_one("#link-code-left", Static).update(safe_text(left))
        self.query_one("#link-code-how", Static).update(safe_text(how))
