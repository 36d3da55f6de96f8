"""The login screen against the real server: the token is cached (0600), never the password;
what is typed lands in the field meant (a burst of keys included), the password is never
shown or copied, and several saved logins make the console ask which one to use."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App
from textual.keys import _character_to_key
from textual.widgets import Input, OptionList, Static

from tests.support.server import ServerProcess
from tests.tui.conftest import SIZE, connected, console, save_login, wait_until
from tests.tui.snapshots import screen_text
from tui_agent.config import (
    DEFAULT_SERVER_URL,
    SESSION_FILE,
    SavedSession,
    load_logins,
    load_session,
    save_session,
)
from tui_agent.screens.choose_login import ChooseLoginScreen
from tui_agent.screens.login import LoginScreen
from tui_agent.screens.main import MainScreen


def burst(app: App[Any], *keys: str) -> None:
    """Queue keys all at once, as a fast typist or a password manager's auto-type sends
    them (``pilot.press`` waits for each key to be handled, which hides races)."""
    for key in keys:
        if len(key) == 1:
            app.post_message(events.Key(_character_to_key(key), key))
        else:
            app.post_message(events.Key(key, {"enter": "\r", "tab": "\t"}.get(key)))


def field(app: App[Any], name: str) -> Input:
    return app.screen.query_one(f"#{name}", Input)


async def test_agent_logs_in_and_only_the_token_is_saved(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    account = server.demo.agents[0]
    app = console(config_dir, server_url=server.url, tenant=server.demo.tenant)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, LoginScreen)
        assert app.screen.query_one("#email", Input).has_focus  # server, tenant filled in
        await pilot.press(*account.email, "enter")
        await pilot.press(*account.password, "enter")
        screen = await connected(pilot)
        assert screen.desk.me_name
    saved = (config_dir / SESSION_FILE).read_text()
    assert stat.S_IMODE((config_dir / SESSION_FILE).stat().st_mode) == 0o600
    assert account.password not in saved
    session = load_session(config_dir)
    assert session.token and session.email == account.email
    assert session.server_url == server.url and session.tenant == server.demo.tenant


async def test_wrong_password_says_so_and_stays_on_the_form(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    app = console(
        config_dir,
        server_url=server.url,
        tenant=server.demo.tenant,
        email=server.demo.agents[1].email,
    )
    async with app.run_test(size=SIZE) as pilot:
        assert app.screen.query_one("#password", Input).has_focus
        await pilot.press(*"not-the-password", "enter")
        status = app.screen.query_one("#login-status", Static)
        await wait_until(pilot, lambda: "Wrong" in str(status.render()), "error shown")
        assert isinstance(app.screen, LoginScreen)
        assert app.screen.query_one("#password", Input).value == ""
    assert not (config_dir / SESSION_FILE).exists()


async def test_a_saved_token_skips_the_form(server: ServerProcess, config_dir: Path) -> None:
    await save_login(server, config_dir)
    app = console(config_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        assert isinstance(app.screen, MainScreen) and screen is app.screen


async def test_a_refused_token_goes_back_to_the_form(
    server: ServerProcess, config_dir: Path
) -> None:
    session = await save_login(server, config_dir)
    session.token = "expired-or-revoked"
    save_session(session, config_dir)
    app = console(config_dir)
    async with app.run_test(size=SIZE) as pilot:

        def told() -> bool:
            shown = app.screen.query("#login-status")
            return (
                isinstance(app.screen, LoginScreen)
                and bool(shown)
                and ("log in again" in str(shown.first(Static).render()))
            )

        await wait_until(pilot, told, "back to the login form, saying why")
    assert load_session(config_dir).token == ""


async def test_fields_show_real_values_or_nothing_and_the_cursor_starts_in_the_first_empty(
    config_dir: Path,
) -> None:
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(pilot.app.screen, LoginScreen)
        boxes = list(pilot.app.screen.query(Input))
        # A placeholder looks like a value: an agent would type the e-mail into the empty
        # tenant field, then the password into the e-mail field, in clear.
        assert [box.placeholder for box in boxes] == ["", "", "", ""]
        assert field(pilot.app, "server").value == DEFAULT_SERVER_URL
        assert field(pilot.app, "tenant").has_focus
        assert [box.value for box in boxes[1:]] == ["", "", ""]


async def test_a_burst_of_keys_lands_in_the_fields_meant_and_the_password_is_never_shown(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    account = server.demo.agents[0]
    async with console(config_dir, server_url=server.url).run_test(size=SIZE) as pilot:
        app = pilot.app
        await pilot.pause()
        assert field(app, "tenant").has_focus
        burst(app, *server.demo.tenant, "enter", *account.email, "tab", *account.password)
        await wait_until(pilot, lambda: field(app, "password").value == account.password,
                         "the password typed into its field")
        assert field(app, "tenant").value == server.demo.tenant
        assert field(app, "email").value == account.email
        await pilot.pause()
        shown = screen_text(app)
        assert account.password not in shown and "•" * len(account.password) in shown
        burst(app, "enter")
        await connected(pilot)
    session = load_session(config_dir)
    assert session.email == account.email and session.tenant == server.demo.tenant
    assert account.password not in (config_dir / SESSION_FILE).read_text()


async def test_enter_right_behind_the_password_logs_in_with_all_of_it(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    account = server.demo.agents[1]
    app = console(config_dir, server_url=server.url, tenant=server.demo.tenant)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        burst(app, *account.email, "enter", *account.password, "enter")
        screen = await connected(pilot)
        assert screen.session.email == account.email


async def test_the_password_never_reaches_the_clipboard(config_dir: Path) -> None:
    async with console(config_dir).run_test(size=SIZE) as pilot:
        app = pilot.app
        await pilot.pause()
        password = field(app, "password")
        app.screen.set_focus(password)
        await pilot.press(*"hunter2-secret")
        app.copy_to_clipboard("")
        password.select_all()
        await pilot.press("ctrl+c")
        password.select_all()
        await pilot.press("ctrl+x")
        await pilot.pause()
        assert app.clipboard == ""
        assert password.value == "hunter2-secret"


async def test_several_saved_logins_ask_which_one_to_use(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    first, second = server.demo.agents[0], server.demo.agents[1]
    await save_login(server, config_dir, first)
    await save_login(server, config_dir, second)  # the most recent
    async with console(config_dir).run_test(size=SIZE) as pilot:
        app = pilot.app
        await pilot.pause()
        assert isinstance(app.screen, ChooseLoginScreen)
        shown = screen_text(app)
        assert first.email in shown and second.email in shown and "Another login" in shown
        assert app.screen.query_one(OptionList).option_count == 3
        await pilot.press("down", "enter")
        screen = await connected(pilot)
        assert screen.session.email == first.email
    assert [s.email for s in load_logins(config_dir)] == [first.email, second.email]


async def test_a_chosen_login_without_a_token_asks_for_its_password_only(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.agents[0])
    save_session(SavedSession(server.url, server.demo.tenant, "someone@else.example"),
                 config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        app = pilot.app
        await pilot.pause()
        assert isinstance(app.screen, ChooseLoginScreen)
        assert "password needed" in screen_text(app)
        await pilot.press("enter")  # the first: someone@else, no token
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen), "login form")
        await pilot.pause()
        assert field(app, "email").value == "someone@else.example"
        assert field(app, "password").has_focus
        await pilot.press("shift+tab", "shift+tab", "shift+tab", "shift+tab", "shift+tab")
        assert app.screen.query_one("#password", Input).has_focus  # tab order wraps round


async def test_another_login_starts_from_the_server_only(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.agents[0])
    await save_login(server, config_dir, server.demo.agents[1])
    async with console(config_dir).run_test(size=SIZE) as pilot:
        app = pilot.app
        await pilot.pause()
        await pilot.press("up", "enter")  # the last entry: another login
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen), "login form")
        await pilot.pause()
        assert field(app, "server").value == server.url
        assert field(app, "tenant").has_focus and field(app, "email").value == ""


async def test_one_of_several_logins_picked_on_the_command_line_opens_at_once(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.agents[0])
    await save_login(server, config_dir, server.demo.agents[1])
    app = console(config_dir, email=server.demo.agents[0].email)
    async with app.run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        assert screen.session.email == server.demo.agents[0].email
