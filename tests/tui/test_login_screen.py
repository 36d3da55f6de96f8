"""The login screen against the real server: the token is cached (0600), never the password."""

from __future__ import annotations

import stat
from pathlib import Path

from textual.widgets import Input, Static

from tests.support.server import ServerProcess
from tests.tui.conftest import SIZE, connected, console, save_login, wait_until
from tui_agent.config import SESSION_FILE, load_session, save_session
from tui_agent.screens.login import LoginScreen
from tui_agent.screens.main import MainScreen


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
