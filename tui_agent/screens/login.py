"""Log in: server URL, tenant, e-mail, password. The token is cached, never the password.

What is typed must land where the agent thinks, or a password ends up in clear in
another field:

* a field shows a real value or nothing (no placeholder that looks like a value);
* the cursor starts in the first empty field;
* enter and tab move between fields as *priority* bindings, run by the app before it
  hands on the next key: an ordinary binding runs in the field's own turn, after the
  app has already sent it the keys typed right behind (a fast typist, or a password
  manager's auto-type, would write the password into the e-mail field). Logging in
  waits in the password field's queue, behind the characters it has not taken in yet;
* the password field shows one dot per character and never gives its text away
  (copy and cut do nothing there).
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from tui_agent.client import ApiError, SteadydeskClient
from tui_agent.config import SavedSession
from tui_agent.messages import LoggedIn, LoginFailed
from tui_agent.untrusted import safe_text

FIELDS = ("server", "tenant", "email", "password")


class PasswordInput(Input):
    """An input whose text never leaves it: dots on screen, nothing to the clipboard."""

    def __init__(self, *, id: str) -> None:
        super().__init__(password=True, id=id)

    def action_copy(self) -> None:
        pass

    def action_cut(self) -> None:
        pass


class LoginScreen(Screen[None]):
    BINDINGS = [
        ("ctrl+q", "app.quit", "Quit"),
        Binding("enter", "enter", "Next / log in", priority=True),
        Binding("tab", "move(1)", "Next field", show=False, priority=True),
        Binding("shift+tab", "move(-1)", "Previous field", show=False, priority=True),
    ]
    ORDER = (*FIELDS, "login")

    def __init__(self, defaults: SavedSession, notice: str = "") -> None:
        super().__init__()
        self.defaults = defaults
        self.notice = notice

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box") as box:
            box.border_title = "Steadydesk agent console"
            # Hints go in the labels: a placeholder in a field looks like a value.
            yield Label("Server URL")
            yield Input(self.defaults.server_url, id="server")
            yield Label("Tenant (your organisation's id)")
            yield Input(self.defaults.tenant, id="tenant")
            yield Label("E-mail")
            yield Input(self.defaults.email, id="email")
            yield Label("Password (never shown)")
            yield PasswordInput(id="password")
            yield Button("Log in", variant="primary", id="login")
            yield Static(safe_text(self.notice), id="login-status")
        yield Footer()

    def on_mount(self) -> None:
        for name in FIELDS:
            box = self.query_one(f"#{name}", Input)
            if not box.value:
                self.set_focus(box)
                return
        self.set_focus(self.query_one("#password", Input))

    def _value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()

    def action_enter(self) -> None:
        """Enter: the next field, or log in from the password field and the button."""
        focused = self.focused
        name = focused.id if focused is not None else ""
        if name in FIELDS and name != "password":
            self.set_focus(self.query_one(f"#{FIELDS[FIELDS.index(name) + 1]}"))
        elif focused is not None:
            # Behind the keys the field has not taken in yet (they wait in its queue).
            focused.call_later(self._submit)
        else:
            self._submit()

    def action_move(self, step: int) -> None:
        """Tab and shift+tab, at once (see the module's docstring)."""
        name = self.focused.id if self.focused is not None else ""
        at = self.ORDER.index(name) if name in self.ORDER else -step
        self.set_focus(self.query_one(f"#{self.ORDER[(at + step) % len(self.ORDER)]}"))

    @on(Button.Pressed, "#login")
    def _pressed(self) -> None:
        self._submit()

    def _submit(self) -> None:
        if self.query_one("#login", Button).disabled:
            return  # a login is under way
        missing = [name for name in FIELDS if not self._value(name)]
        if missing:
            self._status(f"Please fill in: {', '.join(missing)}", error=True)
            self.set_focus(self.query_one(f"#{missing[0]}", Input))
            return
        self._status("Logging in…")
        self.query_one("#login", Button).disabled = True
        self.log_in(
            self._value("server"),
            self._value("tenant"),
            self._value("email"),
            self.query_one("#password", Input).value,
        )

    @work(exclusive=True, group="login", exit_on_error=False)
    async def log_in(self, server: str, tenant: str, email: str, password: str) -> None:
        client = SteadydeskClient(server, lambda _event: None)
        try:
            result = await client.login(tenant, email, password)
        except ApiError as exc:
            self.post_message(LoginFailed(_explain(exc)))
            return
        finally:
            await client.aclose()
        agent = {
            "id": result.agent.id,
            "name": result.agent.name,
            "email": result.agent.email,
            "role": result.agent.role,
        }
        session = SavedSession(
            server.rstrip("/"), tenant, email, result.token, result.expires_at, agent
        )
        self.post_message(LoggedIn(session))

    def on_login_failed(self, message: LoginFailed) -> None:
        self.query_one("#login", Button).disabled = False
        self._status(message.reason, error=True)
        password = self.query_one("#password", Input)
        password.value = ""
        self.set_focus(password)

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#login-status", Static)
        status.update(safe_text(text))
        status.set_class(error, "-error")


def _explain(exc: ApiError) -> str:
    if exc.code == "bad_credentials":
        return "Wrong tenant, e-mail or password."
    if exc.code == "too_many_attempts":
        return "Too many failed attempts: wait a few minutes and try again."
    if exc.status == 0:
        return exc.message
    return f"Login failed: {exc.message or exc.code} (HTTP {exc.status})"
