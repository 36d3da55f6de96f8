"""f2 on the desk: a one-time link code for Slack or Telegram (docs/bridges.md), shown in a
dialog and claimable by a bridge of the agent's tenant, against the real server."""

from __future__ import annotations

import re
from pathlib import Path

from tests.admin.conftest import call
from tests.support.clients import cached_login
from tests.support.server import ServerProcess
from tests.tui.conftest import SIZE, connected, console, save_login, wait_until
from tests.tui.snapshots import screen_text
from tui_agent.screens.link_code import LinkCodeScreen
from tui_agent.screens.main import MainScreen

CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


async def test_f2_shows_a_code_that_links_a_slack_user(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    session = await save_login(server, config_dir)
    admin = await cached_login(server, server.demo.admin)
    made = await call(server, "POST", "/api/v1/bridges", token=admin["token"],
                      body={"kind": "slack", "name": "console test"})
    assert made.status_code == 201, made.text
    bridge_token = made.json()["token"]

    async with console(config_dir).run_test(size=SIZE) as pilot:
        await connected(pilot)
        await pilot.press("f2")

        def dialog() -> LinkCodeScreen | None:
            shown = pilot.app.screen
            return shown if isinstance(shown, LinkCodeScreen) and shown.code else None

        await wait_until(pilot, dialog, "a link code shown")
        first = dialog()
        assert first is not None
        code = first.code
        text = screen_text(pilot.app)
        assert code in text and f"/steady link {code}" in text and "Valid once" in text
        assert CODE.fullmatch(code)

        await pilot.press("n")
        await wait_until(pilot, lambda: (d := dialog()) is not None and d.code != code,
                         "a new code")
        fresh = dialog()
        assert fresh is not None
        claimed = await call(server, "POST", "/api/v1/bridges/links", token=bridge_token,
                             body={"code": code, "external_user": "TCONSOLE:UOLD"})
        assert claimed.status_code == 400  # the new code replaced it
        claimed = await call(server, "POST", "/api/v1/bridges/links", token=bridge_token,
                             body={"code": fresh.code, "external_user": "TCONSOLE:UNEW"})
        assert claimed.status_code == 200
        assert claimed.json()["agent_id"] == session.agent["id"]

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, MainScreen), "desk again")
