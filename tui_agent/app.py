"""The Textual app: login, then the desk. ``steadydesk-agent`` (``task tui``) runs :func:`main`."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from textual import events
from textual.app import App
from textual.screen import ModalScreen

from tui_agent import __version__
from tui_agent.canned import load_canned
from tui_agent.collector import CHECK_SECS, COLLECTOR
from tui_agent.config import (
    CONFIG_DIR_ENV,
    SavedSession,
    config_dir,
    forget_token,
    load_logins,
    load_session,
    save_session,
)
from tui_agent.messages import LoggedIn, LoginChosen
from tui_agent.screens.choose_login import ChooseLoginScreen
from tui_agent.screens.link_code import LinkCodeScreen
from tui_agent.screens.login import LoginScreen
from tui_agent.screens.main import MainScreen, utc_now
from tui_agent.screens.monitor import MonitorScreen
from tui_agent.streams import Backoff
from tui_agent.terminal import enable_alt_digits
from tui_agent.untrusted import tell


class AgentConsole(App[None]):
    CSS_PATH = "styles/app.tcss"
    TITLE = "Steadydesk"
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        *,
        server_url: str | None = None,
        tenant: str | None = None,
        email: str | None = None,
        force_login: bool = False,
        config_path: Path | None = None,
        backoff: Callable[[], Backoff] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        enable_alt_digits()
        super().__init__()
        if not os.environ.get("TEXTUAL_ANIMATIONS"):
            # A 0.3 s slide of the tab underline is ~15 redraws of the screen per tab
            # switch: an agent switching through a busy desk wants the keys back.
            self.animation_level = "none"
        self.config_path = config_path
        self.overrides = (server_url, tenant, email)
        self.force_login = force_login
        self.make_backoff = backoff or Backoff
        self.clock = clock

    @property
    def directory(self) -> Path:
        return self.config_path or config_dir()

    def on_mount(self) -> None:
        COLLECTOR.start()  # the oldest generation collected when idle, not mid-burst
        self.set_interval(CHECK_SECS, COLLECTOR.check)
        server_url, tenant, email = self.overrides
        saved = load_logins(self.directory)
        wanted = [
            login
            for login in saved
            if all(
                want in (None, have)
                for want, have in (
                    (server_url, login.server_url),
                    (tenant, login.tenant),
                    (email, login.email),
                )
            )
        ]
        if len(wanted) > 1 and not self.force_login:
            # Several logins on this machine (a second console, another tenant): ask,
            # never pick whichever was used last.
            self.push_screen(ChooseLoginScreen(wanted))
            return
        if wanted and wanted[0].token_usable() and not self.force_login:
            self.open_desk(wanted[0])
            return
        base = wanted[0] if wanted else load_session(self.directory)
        defaults = SavedSession(
            server_url=server_url or base.server_url,
            tenant=tenant or base.tenant,
            email=email or base.email,
        )
        self.push_screen(LoginScreen(defaults))

    def on_unmount(self) -> None:
        COLLECTOR.stop()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown):
            COLLECTOR.busy()
        await super().on_event(event)

    def on_login_chosen(self, message: LoginChosen) -> None:
        chosen = message.session
        if chosen is not None and chosen.token_usable():
            save_session(chosen, self.directory)  # the most recent from now on
            self.open_desk(chosen, replace=True)
            return
        if chosen is None:
            defaults = SavedSession(server_url=message.server_url, tenant="", email="")
        else:
            defaults = SavedSession(chosen.server_url, chosen.tenant, chosen.email)
        self.switch_screen(LoginScreen(defaults))

    def on_logged_in(self, message: LoggedIn) -> None:
        save_session(message.session, self.directory)
        self.open_desk(message.session, replace=True)

    def open_desk(self, session: SavedSession, replace: bool = False) -> None:
        desk = MainScreen(
            session, load_canned(self.directory), backoff=self.make_backoff(), clock=self.clock
        )
        if replace:
            self.switch_screen(desk)
        else:
            self.push_screen(desk)

    def action_link_code(self) -> None:
        """f2 on the desk: a one-time code for linking Slack or Telegram (a dialog)."""
        desk = next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)
        if desk is not None and not isinstance(self.screen, LinkCodeScreen):
            self.push_screen(LinkCodeScreen(desk.client.link_code, clock=self.clock))

    def action_monitor(self) -> None:
        """f8 on the desk: the live monitor, for admins (the server refuses the others)."""
        desk = next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)
        if desk is None or isinstance(self.screen, MonitorScreen):
            return
        if desk.session.agent.get("role") != "admin":
            tell(self, "The live monitor is for admins.", severity="warning")
            return
        self.push_screen(MonitorScreen(desk.client, self.clock))

    def logout(self, reason: str = "") -> None:
        """Back to the login form (this login's token is dropped; server, tenant and
        e-mail stay, and so do the other saved logins)."""
        desk = next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)
        session = desk.session if desk is not None else load_session(self.directory)
        forget_token(self.directory, session)
        while isinstance(self.screen, ModalScreen):
            self.pop_screen()
        defaults = SavedSession(session.server_url, session.tenant, session.email)
        self.switch_screen(LoginScreen(defaults, notice=reason))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="steadydesk-agent",
        description="Steadydesk agent console (a terminal client of the chat server).",
    )
    parser.add_argument("--server", help="server URL, e.g. http://127.0.0.1:8800")
    parser.add_argument("--tenant", help="tenant id (the demo's is printed by `task run`)")
    parser.add_argument("--email", help="agent e-mail")
    parser.add_argument(
        "--login",
        action="store_true",
        help="show the login form even when a saved token is still valid",
    )
    parser.add_argument("--logout", action="store_true", help="forget every saved token and exit")
    parser.add_argument(
        "--config-dir",
        type=Path,
        help=f"where session.json and canned.json live (env {CONFIG_DIR_ENV})",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.logout:
        forget_token(args.config_dir)
        print("Logged out: the saved tokens are gone.")
        return
    AgentConsole(
        server_url=args.server,
        tenant=args.tenant,
        email=args.email,
        force_login=args.login,
        config_path=args.config_dir,
    ).run()


if __name__ == "__main__":
    main()
