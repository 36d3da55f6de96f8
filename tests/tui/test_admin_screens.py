"""The admin screens (issue #18 item 3) against a real server, driven by keys under Pilot.

One server for the module; the tests run in file order and each names what it creates
uniquely, so they do not depend on each other's rows. Snapshots come first, before any
row is added, so what they show is the demo tenant as created.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from tests.secure.conftest import raw_rows
from tests.support.clients import (
    Clients,
    agent_login,
    cached_login,
    get,
    open_conversation,
    post_json,
)
from tests.support.http import http_client
from tests.support.server import ServerProcess
from tests.tui.conftest import (
    SIZE,
    connected,
    console,
    save_login,
    visitor_starts,
    wait_until,
)
from tests.tui.snapshots import ANY_DATE, assert_snapshot, columns_sized, exactly, screen_text
from tui_agent.screens.admin.agents import AgentsScreen
from tui_agent.screens.admin.base import AdminView
from tui_agent.screens.admin.departments import DepartmentsScreen
from tui_agent.screens.admin.form import FormScreen
from tui_agent.screens.admin.hub import AdminHubScreen
from tui_agent.screens.admin.logs import AuditScreen, LoginLogScreen
from tui_agent.screens.admin.open import admin_hub
from tui_agent.screens.admin.reports import ReportsScreen
from tui_agent.screens.admin.settings import SettingsScreen
from tui_agent.screens.admin.site_widget import SiteWidgetScreen
from tui_agent.screens.admin.sites import CopyScreen, SitesScreen
from tui_agent.screens.admin.team import ApiKeysScreen, BridgesScreen, TeamCannedScreen
from tui_agent.screens.confirm import ConfirmScreen
from tui_agent.screens.help import HelpScreen
from tui_agent.screens.main import MainScreen

# Snapshots catch the screen at one moment; the console coalesces its redraws, which lag
# under a second worker's load (docs/testing.md): these run alone.
pytestmark = pytest.mark.serial

SCREENSHOTS_ENV = "STEADY_SAVE_SCREENSHOTS"  # =1 writes docs/images/console-*.svg
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def screenshot(pilot: Pilot[Any], name: str) -> None:
    """The docs' SVG screenshots, made by the same test that checks the screen."""
    if os.environ.get(SCREENSHOTS_ENV) == "1":
        DOCS_IMAGES.mkdir(exist_ok=True)
        pilot.app.save_screenshot(f"console-{name}.svg", str(DOCS_IMAGES))


async def opened(pilot: Pilot[Any], kind: type[AdminView]) -> Any:
    """Wait until ``kind`` is the screen and its first load ended; the screen."""
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, kind), kind.__name__)
    screen = pilot.app.screen
    assert isinstance(screen, AdminView)
    await wait_until(pilot, lambda: screen.last_status != "", f"{kind.__name__} loaded")
    # The rows are in; the table sizes its columns when it is next idle, which can come
    # after a pause (CI twice showed every column as wide as its label).
    table = screen.query_one("#admin-table", DataTable)
    await wait_until(pilot, lambda: columns_sized(table), f"{kind.__name__} columns sized")
    await pilot.pause()
    return screen



async def done(pilot: Pilot[Any], screen: AdminView, status: str) -> None:
    await wait_until(pilot, lambda: screen.last_status.startswith(status),
                     f"status {status!r} (is {screen.last_status!r})")
    await pilot.pause()


async def fill(pilot: Pilot[Any], *values: str) -> None:
    """Put each value into the form's focused field (empty: keep what is there) and press
    enter, which moves to the next field or saves. (Set, not typed key by key: Textual's
    Input is not under test, and 0.1 s a key on a busy machine adds up.)"""
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, FormScreen), "form")
    for value in values:
        focused = pilot.app.focused
        assert isinstance(focused, Input)
        if value:
            focused.value = value
        await pilot.press("enter")


async def admin_desk(pilot: Pilot[Any], live: bool = True) -> AdminHubScreen:
    """The desk (connected, unless ``live`` is False: the admin screens need REST only),
    then ``f9``."""
    if live:
        await connected(pilot)
    else:
        await wait_until(pilot, lambda: any(isinstance(s, MainScreen)
                                            for s in pilot.app.screen_stack), "desk")
    await pilot.press("f9")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AdminHubScreen), "admin hub")
    hub = pilot.app.screen
    assert isinstance(hub, AdminHubScreen)
    return hub


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def mode_of(path: Path) -> int:
    return path.stat().st_mode & 0o777


def column(screen: AdminView, index: int) -> list[str]:
    return [str(row[index]) for row in screen.cells]


async def test_snapshots_of_the_hub_agents_and_departments(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.admin)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await admin_desk(pilot)
        await pilot.pause()
        assert_snapshot(pilot.app, "admin-hub")
        screenshot(pilot, "admin-hub")

        await pilot.press("d")
        await opened(pilot, DepartmentsScreen)
        assert_snapshot(pilot.app, "admin-departments")
        await pilot.press("escape")

        await pilot.press("a")
        agents = await opened(pilot, AgentsScreen)
        # Statuses change as other consoles come and go: the demo agents are offline
        # here (this module's server), the admin online (this console).
        assert "online" in column(agents, 5)
        assert_snapshot(pilot.app, "admin-agents")
        screenshot(pilot, "admin-agents")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, FormScreen), "form")
        await pilot.press(*"new@x.io", *["enter"] * 5, *"hidden-secret")
        await pilot.pause()
        assert "hidden-secret" not in screen_text(pilot.app)  # the password never echoes
        assert_snapshot(pilot.app, "admin-agent-form")


async def test_snapshots_of_settings_team_replies_bridges_and_reports(
    server: ServerProcess, config_dir: Path
) -> None:
    """Before the tests below change them: the demo tenant's settings, no team replies,
    no bridges, and the reports of a tenant without conversations."""
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.admin)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await admin_desk(pilot, live=False)
        for key, kind, name in (("t", SettingsScreen, "admin-settings"),
                                ("c", TeamCannedScreen, "admin-team-canned"),
                                ("b", BridgesScreen, "admin-bridges"),
                                ("r", ReportsScreen, "admin-reports")):
            await pilot.press(key)
            await opened(pilot, kind)
            await pilot.pause()
            assert_snapshot(pilot.app, name)
            await pilot.press("escape")


async def test_snapshots_of_sites_api_keys_and_the_logs(
    server: ServerProcess, config_dir: Path
) -> None:
    """The demo tenant's random values are masked, not the snapshot skipped: its site key,
    its API key id, the agents' ids and the HTTP client's version in the login log."""
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.admin)
    # A node adds the address it serves at to the demo site (a random port here): back to
    # what `demo` recorded, in the database (an API change would be one more audit row).
    raw_rows(
        server,
        "UPDATE site SET allowed_origins = ? WHERE id = ?",
        (json.dumps(["http://127.0.0.1:8800", "http://localhost:8800"]), server.demo.site_key),
    )
    masks = (
        exactly(server.demo.site_key, "site_key"),
        exactly(server.demo.api_key, "api_key"),
        ANY_DATE,
        (re.compile(r"python-httpx/\S+"), "python-httpx/x.y.z"),  # the last column
    )
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await admin_desk(pilot, live=False)
        for key, kind, name in (("s", SitesScreen, "admin-sites"),
                                ("k", ApiKeysScreen, "admin-api-keys"),
                                ("l", AuditScreen, "admin-audit"),
                                ("g", LoginLogScreen, "admin-logins")):
            if kind is AuditScreen:  # a row in each log: an audited change, a failed login
                admin = await cached_login(server, server.demo.admin)
                async with http_client(base_url=server.url) as http:
                    same = await http.patch(f"/api/v1/sites/{server.demo.site_key}",
                                            json={"csat_enabled": True},
                                            headers={"Authorization": f"Bearer {admin['token']}"})
                assert same.status_code == 200, same.text
                assert (await agent_login(server, "nobody@example.com", "x")).status_code == 401
            await pilot.press(key)
            await opened(pilot, kind)
            await pilot.pause()
            assert_snapshot(pilot.app, name, masks)
            # Every column in view: the sites table ran past 130 columns with the CSAT one.
            table = pilot.app.screen.query_one(DataTable)
            assert table.virtual_size.width <= SIZE[0], (name, table.virtual_size.width)
            await pilot.press("escape")


async def test_an_agent_sees_no_admin_key_and_a_403_is_shown_in_words(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.agents[0])
    async with console(config_dir).run_test(size=SIZE) as pilot:
        desk = await connected(pilot)
        await pilot.press("f9")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, AdminHubScreen)
        assert desk.check_action("admin", ()) is False
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "help")
        assert "Admin screens" not in "".join(str(w.render()) for w in pilot.app.screen.query("*"))
        await pilot.press("escape")
        # The server decides, not the console: an agent who reaches the screen anyway
        # gets the server's 403 in words, and no rows.
        pilot.app.push_screen(admin_hub(desk.client, pilot.app, desk.session))
        await pilot.press("s")
        sites = await opened(pilot, SitesScreen)
        assert sites.last_status == "The server refused: admins only (403 forbidden)."
        assert sites.records == []
        await pilot.pause()
        assert "admins only (403 forbidden)" in str(sites.query_one("#admin-status").render())


async def test_admin_manages_agents(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.admin)
    admin = await cached_login(server, server.demo.admin)
    made = await post_json(server, "/api/v1/departments", {"name": "Returns"},
                           {"Authorization": f"Bearer {admin['token']}"})
    assert made.status_code == 201  # (the departments screen has its own test)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await admin_desk(pilot, live=False)
        await pilot.press("a")
        agents = await opened(pilot, AgentsScreen)

        await pilot.press("n")
        await fill(pilot, "cleo@example.com", "Cleo", "", "3", "returns", "long-enough-pw")
        await done(pilot, agents, "created cleo@example.com")
        await wait_until(pilot, lambda: "cleo@example.com" in column(agents, 1), "listed")
        row = column(agents, 1).index("cleo@example.com")
        assert agents.cells[row][2:5] == ["agent", 3, "Returns"]
        # (that such an agent logs in is the end-to-end test's, below)

        agents.query_one("#admin-table").move_cursor(row=row)  # type: ignore[attr-defined]
        await pilot.press("e")
        await fill(pilot, "", "admin", "5", "")
        await done(pilot, agents, "saved")
        await wait_until(pilot, lambda: agents.cells[row][2:4] == ["admin", 5], "edited")

        await pilot.press("e")  # an unknown department is named, nothing is sent
        await fill(pilot, "", "", "", "Nowhere")
        await done(pilot, agents, "no department named Nowhere")

        await pilot.press("n")  # the server's refusals are shown in words
        await fill(pilot, "cleo@example.com", "Cleo again", "", "", "", "long-enough-pw")
        await done(pilot, agents, "409 already_exists")


async def test_admin_resets_a_password_and_disables_an_agent(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.admin)
    admin = await cached_login(server, server.demo.admin)
    made = await post_json(server, "/api/v1/agents",
                           {"email": "dora@example.com", "password": "long-enough-pw"},
                           {"Authorization": f"Bearer {admin['token']}"})
    assert made.status_code == 201
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await admin_desk(pilot, live=False)
        await pilot.press("a")
        agents = await opened(pilot, AgentsScreen)
        row = column(agents, 1).index("dora@example.com")
        agents.query_one("#admin-table").move_cursor(row=row)  # type: ignore[attr-defined]
        await pilot.press("p")
        await fill(pilot, "a-new-password")
        await done(pilot, agents, "password changed")
        assert (await agent_login(server, "dora@example.com", "long-enough-pw")).status_code == 401

        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await done(pilot, agents, "disabled")
        await wait_until(pilot, lambda: agents.cells[row][6] is True, "shown disabled")
        assert (await agent_login(server, "dora@example.com", "a-new-password")).status_code == 401


async def test_admin_manages_departments(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.admin)
    admin = await cached_login(server, server.demo.admin)
    hostile = "[@click=app.quit]Evil[/] \x1b]52;c;aGk=\x07\x1b[2J\u202eName"
    made = await post_json(server, "/api/v1/departments", {"name": hostile},
                           {"Authorization": f"Bearer {admin['token']}"})
    assert made.status_code == 201
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await admin_desk(pilot, live=False)
        await pilot.press("d")
        departments = await opened(pilot, DepartmentsScreen)
        # A name is shown as text: no markup run, no escape sequence or bidi control sent.
        drawn = screen_text(pilot.app)
        assert "[@click=app.quit]Evil[/] Name" in drawn
        assert "\x1b" not in drawn and "\u202e" not in drawn
        await pilot.press("n")
        await fill(pilot, "Wholesale")
        await done(pilot, departments, "created Wholesale")
        await wait_until(pilot, lambda: "Wholesale" in column(departments, 0), "listed")
        departments.query_one("#admin-table").move_cursor(  # type: ignore[attr-defined]
            row=column(departments, 0).index("Wholesale"))
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, FormScreen), "form")
        pilot.app.screen.query_one(Input).value = ""
        await fill(pilot, "Trade")
        await done(pilot, departments, "renamed")
        await wait_until(pilot, lambda: "Trade" in column(departments, 0), "renamed")
        departments.query_one("#admin-table").move_cursor(  # type: ignore[attr-defined]
            row=column(departments, 0).index("Trade"))
        await pilot.press("delete", "y")
        await done(pilot, departments, "deleted")
        await wait_until(pilot, lambda: "Trade" not in column(departments, 0), "gone")


async def test_admin_manages_sites(server: ServerProcess, config_dir: Path) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.admin)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await admin_desk(pilot, live=False)
        await pilot.press("s")
        sites = await opened(pilot, SitesScreen)
        await pilot.press("n")
        await fill(pilot, "Shop EU", "https://shop.example.eu/path", "no", "")
        await done(pilot, sites, "400 ")  # the server's reason, in words
        assert "is not an origin like https://example.com" in sites.last_status
        await pilot.press("n")
        await fill(pilot, "Shop EU", "https://shop.example.eu/", "no", "")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CopyScreen), "secret shown")
        shown = pilot.app.screen
        assert isinstance(shown, CopyScreen)
        assert f'<script src="{server.url}/widget.js" data-site="' in shown.text
        assert "shown this once" in shown.text
        await pilot.press("escape")
        await wait_until(pilot, lambda: "Shop EU" in column(sites, 0), "listed")
        row = column(sites, 0).index("Shop EU")
        assert sites.cells[row][2] == ["https://shop.example.eu"]  # normalised by the server
        sites.query_one("#admin-table").move_cursor(row=row)  # type: ignore[attr-defined]
        site_key = str(sites.records[row]["site_key"])
        old_secret = shown.text.rsplit("\n", 1)[-1]

        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CopyScreen), "snippet")
        snippet = pilot.app.screen
        assert isinstance(snippet, CopyScreen)
        assert snippet.text == (
            f'<script src="{server.url}/widget.js" data-site="{site_key}" async></script>'
        )
        await pilot.press("escape", "s", "y")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CopyScreen), "new secret")
        rotated = pilot.app.screen
        assert isinstance(rotated, CopyScreen)
        new_secret = rotated.text.rsplit("\n", 1)[-1]
        assert len(new_secret) >= 16 and new_secret != old_secret


async def test_admin_turns_csat_off_and_closing_then_offers_no_rating(
    server: ServerProcess, config_dir: Path, clients: Clients
) -> None:
    """A tenant of its own: the demo site's rating stays on for the other tests."""
    tenant = server.run_demo("csatoff")
    await save_login(server, config_dir, tenant.admin, demo=tenant)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await admin_desk(pilot, live=False)
        await pilot.press("s")
        sites = await opened(pilot, SitesScreen)
        row = column(sites, 1).index(tenant.site_key)
        csat = SitesScreen.COLUMNS.index("CSAT")
        assert sites.cells[row][csat] is True  # on by default
        sites.query_one("#admin-table").move_cursor(row=row)  # type: ignore[attr-defined]
        await pilot.press("e")
        await fill(pilot, "", "", "", "no")
        await done(pilot, sites, "saved")
        await wait_until(pilot, lambda: sites.cells[column(sites, 1).index(tenant.site_key)][csat]
                         is False, "CSAT shown off")

    visitor = await clients.visitor(server, demo=tenant)
    agent = await clients.agent(server, demo=tenant)
    conv = await open_conversation(visitor, agent, "rate me?")
    await agent.send_json({"type": "close", "conv": conv})
    closed = await visitor.recv_event("conv.closed", conv)
    assert "csat" not in closed["data"]  # no rating offered
    await visitor.send_json({"type": "rate", "conv": conv, "rating": 5})
    await visitor.recv_error("csat_disabled", conv=conv)


async def test_logs_name_people_filter_and_export_csv(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    hostile = "=hyperlink(\"http://evil\")\x1b[2j"  # the server lower-cases user names
    assert (await agent_login(server, hostile, "wrong-password")).status_code == 401
    await save_login(server, config_dir, server.demo.admin)
    admin = await cached_login(server, server.demo.admin)
    admin_name = admin["agent"]["name"]
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await admin_desk(pilot, live=False)
        await pilot.press("d")
        departments = await opened(pilot, DepartmentsScreen)
        await pilot.press("n")
        await fill(pilot, "Audited")
        await done(pilot, departments, "created Audited")
        made = await post_json(server, "/api/v1/departments", {"name": "Audited too"},
                               {"Authorization": f"Bearer {admin['token']}"})
        assert made.status_code == 201  # a second row for paging, below
        await pilot.press("escape", "l")
        audit = await opened(pilot, AuditScreen)
        await pilot.press("f", *admin_name, "tab", *"department.", "enter")
        await wait_until(
            pilot,
            lambda: any(r[2] == "department.create" and r[3] == "Audited" for r in audit.cells),
            "the create, by name",
        )
        assert {r[1] for r in audit.cells} == {admin_name}
        assert {str(r[2]).split(".")[0] for r in audit.cells} == {"department"}
        audit.api.log_page_rows = 1  # older pages, one row each, with the same filters
        await pilot.press("ctrl+r")
        await done(pilot, audit, "1 rows (m: older)")
        await pilot.press("m")
        await wait_until(pilot, lambda: len(audit.cells) == 2, "an older page appended")
        assert {r[1] for r in audit.cells} == {admin_name}
        audit.api.log_page_rows = 200

        await pilot.press("escape", "g")
        logins = await opened(pilot, LoginLogScreen)
        await pilot.press("f", "tab", "tab", *"no", "enter")
        await wait_until(pilot, lambda: logins.cells and all(r[2] is False for r in logins.cells),
                         "failed logins only")
        shown = pilot.app.screen.query_one("#admin-table").render_line(1).text  # type: ignore[attr-defined]
        assert "\x1b" not in shown
        await pilot.press("ctrl+e")
        await done(pilot, logins, f"{len(logins.cells)} rows written to ")
        path = Path(logins.last_status.split(" written to ", 1)[1])
        assert path.parent == config_dir / "exports" and mode_of(path) == 0o600
        rows = list(csv.reader(read_text(path).splitlines()))
        assert rows[0] == ["When (UTC)", "User", "Succeeded", "Source", "IP", "Client"]
        users = [r[1] for r in rows[1:]]
        # never a formula in a spreadsheet, never an escape sequence in a terminal
        assert "'=hyperlink(\"http://evil\")" in users


async def test_reports_chart_and_table_per_day_agent_and_department(
    server: ServerProcess, config_dir: Path, clients: Clients
) -> None:
    assert server.demo is not None
    visitor = await clients.visitor(server, name="Rita")
    await visitor.send_and_ack("a question for the report")
    await save_login(server, config_dir, server.demo.admin)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await admin_desk(pilot, live=False)
        await pilot.press("r")
        reports = await opened(pilot, ReportsScreen)
        assert reports.group == "day" and sum(int(str(r[1])) for r in reports.cells) >= 1
        bars = str(reports.query_one("#report-bars").render())
        assert "█" in bars
        assert len(reports.query_one("#report-sparkline").data or ()) == 30  # type: ignore[attr-defined]
        screenshot(pilot, "admin-reports")
        await pilot.press("2")
        await done(pilot, reports, f"{len(reports.cells)} rows, per agent")
        await wait_until(pilot, lambda: reports.group == "agent" and "nobody" in column(reports, 0),
                         "per agent (the waiting one: nobody)")
        await pilot.press("3")
        await wait_until(pilot, lambda: reports.last_status.endswith("per department"),
                         "per department")
        await pilot.press("m")
        title = str(reports.query_one("#report-chart-title").render())
        assert title.startswith("First response")
        await pilot.press("1")
        await wait_until(pilot, lambda: reports.last_status.endswith("per day"), "per day")
        await pilot.press("ctrl+e")
        await done(pilot, reports, f"{len(reports.cells)} rows written to ")
        path = Path(reports.last_status.split(" written to ", 1)[1])
        header = read_text(path).splitlines()[0]
        assert header.startswith("Day,Conversations,Closed,First response (s)")
    resp = await get(server, "/api/v1/reports")
    assert resp.status_code == 401


async def test_an_agent_made_in_the_console_logs_in_and_gets_a_transfer_by_department(
    server: ServerProcess, config_dir: Path, tmp_path: Path, clients: Clients, clean_desk: None
) -> None:
    """Issue #18 item 6: the admin creates a department and an agent in it (console keys
    only); that agent logs in with a second console and receives a conversation
    transferred to the department, named as the admin typed it."""
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.admin)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await admin_desk(pilot, live=False)
        await pilot.press("d")
        departments = await opened(pilot, DepartmentsScreen)
        await pilot.press("n")
        await fill(pilot, "Billing")
        await done(pilot, departments, "created Billing")
        await pilot.press("escape", "a")
        agents = await opened(pilot, AgentsScreen)
        await pilot.press("n")
        await fill(pilot, "bea@x.io", "Bea", "", "2", "billing", "bea-password")
        await done(pilot, agents, "created bea@x.io")

    departments_now = await get(
        server, "/api/v1/departments",
        {"Authorization": f"Bearer {(await cached_login(server, server.demo.admin))['token']}"},
    )
    billing = next(d["id"] for d in departments_now.json()["departments"] if d["name"] == "Billing")
    bea_dir = tmp_path / "bea-config"
    bea_console = console(bea_dir, server_url=server.url, tenant=server.demo.tenant,
                          email="bea@x.io")
    async with bea_console.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(pilot.app.focused, Input) and pilot.app.focused.id == "password"
        await pilot.press(*"bea-password", "enter")
        desk = await connected(pilot)
        assert desk.desk.me_name == "Bea"
        await wait_until(pilot, lambda: desk.desk.my_status == "online", "online")

        visitor, conv = await visitor_starts(clients, server, "Tom", "My invoice is wrong")
        admin = await clients.agent(server, server.demo.admin, label="admin")
        await admin.send_json({"type": "accept", "conv": conv})
        await admin.recv_event("conv.assigned", conv)
        await admin.send_json({"type": "transfer", "conv": conv, "to_department": billing})
        await admin.recv_event("conv.transferred", conv)

        await wait_until(pilot, lambda: conv in [c.id for c in desk.desk.queue()]
                         or desk.desk.is_mine(desk.desk.get(conv)), "reached Bea")
        notes = [n.text for n in desk.desk.get(conv).notes]
        assert any(n.endswith("to Billing") for n in notes), notes
        if not desk.desk.is_mine(desk.desk.get(conv)):  # offered, or waiting: she takes it
            await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: desk.desk.is_mine(desk.desk.get(conv)), "Bea's")
        await pilot.press(*"Let me check", "enter")
        await visitor.recv_type("message", conv=conv, body="Let me check")


async def test_hours_and_prechat_edited_beside_the_visitors_preview(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.admin)
    token = (await cached_login(server, server.demo.admin))["token"]
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await admin_desk(pilot, live=False)
        await pilot.press("s")
        sites = await opened(pilot, SitesScreen)
        sites.query_one("#admin-table").move_cursor(  # type: ignore[attr-defined]
            row=column(sites, 1).index(server.demo.site_key))
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, SiteWidgetScreen), "editor")
        editor = pilot.app.screen
        assert isinstance(editor, SiteWidgetScreen)
        await wait_until(pilot, lambda: editor.loaded, "loaded")
        values = {"tz": "Europe/Berlin", "mon": "9:00-12:00, 13:00-18:00", "tue": "09:00-17:00",
                  "welcome": "Hi! How can we help?", "after": "We are closed.",
                  "prechat": "yes", "fields": "name, e-mail", "required": "email"}
        for name, value in values.items():
            editor.query_one(f"#sw-{name}", Input).value = value
        await pilot.pause()
        shown = str(editor.query_one("#sw-preview").render())
        assert "We are back Mon 09:00 (Europe/Berlin)" in shown
        assert "E-mail *: [__________]" in shown and "Name: [__________]" in shown
        assert_snapshot(pilot.app, "admin-site-hours")
        screenshot(pilot, "admin-site-hours")

        editor.query_one("#sw-wed", Input).value = "9-5"
        await pilot.press("ctrl+s")
        assert editor.last_status == "wed: '9-5' is not like 09:00-18:00"
        editor.query_one("#sw-wed", Input).value = ""
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: editor.last_status == "saved", "saved")
    headers = {"Authorization": f"Bearer {token}"}
    hours = (await get(server, f"/api/v1/sites/{server.demo.site_key}/hours", headers)).json()
    open_days = {day: spans for day, spans in hours["hours"]["days"].items() if spans}
    assert open_days == {"mon": [["09:00", "12:00"], ["13:00", "18:00"]],
                         "tue": [["09:00", "17:00"]]}
    assert hours["welcome_message"] == "Hi! How can we help?"
    prechat = (await get(server, f"/api/v1/sites/{server.demo.site_key}/prechat", headers)).json()
    assert (prechat["enabled"], prechat["fields"], prechat["required"]) == (
        True, ["name", "email"], ["email"])


async def test_team_replies_and_settings(
    server: ServerProcess, config_dir: Path
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.admin)
    agent = await cached_login(server, server.demo.agents[0])
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await admin_desk(pilot, live=False)
        await pilot.press("c")
        canned = await opened(pilot, TeamCannedScreen)
        await pilot.press("n")
        await fill(pilot, "refund", "Refunds take {days} days, {visitor.name}.")
        await done(pilot, canned, "created /refund")
        replies = (await get(server, "/api/v1/canned-replies",
                             {"Authorization": f"Bearer {agent['token']}"})).json()
        assert any(r["shortcut"] == "refund" and r["scope"] == "tenant"
                   for r in replies["canned_replies"])  # every agent has it now

        await pilot.press("escape", "t")
        settings = await opened(pilot, SettingsScreen)
        settings.query_one("#admin-table").move_cursor(  # type: ignore[attr-defined]
            row=[tuple(r[:2]) for r in settings.cells].index(("masking", "cards")))
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, FormScreen), "form")
        pilot.app.screen.query_one(Input).value = ""
        await fill(pilot, "yes")
        await done(pilot, settings, "masking.cards saved")
        assert [r[2] for r in settings.cells if tuple(r[:2]) == ("masking", "cards")] == [True]


async def test_api_keys_and_bridges(server: ServerProcess, config_dir: Path) -> None:
    assert server.demo is not None
    await save_login(server, config_dir, server.demo.admin)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        hub = await admin_desk(pilot, live=False)
        await pilot.press("k")
        keys = await opened(pilot, ApiKeysScreen)
        await pilot.press("n")
        await fill(pilot, "CRM sync", "agent")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CopyScreen), "secret")
        assert "Secret (shown this once): " in pilot.app.screen.text  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_until(pilot, lambda: "CRM sync" in column(keys, 0), "listed")
        keys.query_one("#admin-table").move_cursor(  # type: ignore[attr-defined]
            row=column(keys, 0).index("CRM sync"))
        await pilot.press("delete", "y")
        await done(pilot, keys, "revoked")
        assert keys.cells[column(keys, 0).index("CRM sync")][4] != ""

        await pilot.press("escape", "b")
        bridges = await opened(pilot, BridgesScreen)
        await pilot.press("n")
        await fill(pilot, "slack", "Support Slack", "")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CopyScreen), "token")
        await pilot.press("escape")
        await wait_until(pilot, lambda: "Support Slack" in column(bridges, 0), "listed")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CopyScreen), "link code")
        await pilot.press("escape")
        assert hub.context.server_url == server.url
