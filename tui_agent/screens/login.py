"""Log in: server URL, tenant, e-mail, password. The token is cached, never the password."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from tui_agent.client import ApiError, SteadydeskClient
from tui_agent.config import SavedSession
from tui_agent.messages import LoggedIn, LoginFailed
from tui_agent.untrusted import safe_text

FIELDS = ("server", "tenant", "email", "password")


class LoginScreen(Screen[None]):
    BINDINGS = [("ctrl+q", "app.quit", "Quit")]

    def __init__(self, defaults: SavedSession, notice: str = "") -> None:
        super().__init__()
        self.defaults = defaults
        self.notice = notice

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box") as box:
            box.border_title = "Steadydesk agent console"
            yield Label("Server URL")
            yield Input(self.defaults.server_url, placeholder="http://127.0.0.1:8800", id="server")
            yield Label("Tenant")
            yield Input(self.defaults.tenant, placeholder="default", id="tenant")
            yield Label("E-mail")
            yield Input(self.defaults.email, placeholder="agent1@default.demo", id="email")
            yield Label("Password")
            yield Input(password=True, id="password")
            yield Button("Log in", variant="primary", id="login")
            yield Static(safe_text(self.notice), id="login-status")
        yield Footer()

    def on_mount(self) -> None:
        for name in FIELDS:
            box = self.query_one(f"#{name}", Input)
            if not box.value:
                box.focus()
                return
        self.query_one("#password", Input).focus()

    def _value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        name = event.input.id or ""
        if name != "password" and name in FIELDS:
            self.query_one(f"#{FIELDS[FIELDS.index(name) + 1]}", Input).focus()
        else:
            self._submit()

    @on(Button.Pressed, "#login")
    def _pressed(self) -> None:
        self._submit()

    def _submit(self) -> None:
        missing = [name for name in FIELDS if not self._value(name)]
        if missing:
            self._status(f"Please fill in: {', '.join(missing)}", error=True)
            self.query_one(f"#{missing[0]}", Input).focus()
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
        password.focus()

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
