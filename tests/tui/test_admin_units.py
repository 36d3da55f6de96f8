"""The admin screens' pure parts, without a server: CSV cells, typed hours and pre-chat
fields, department names, the visitor's preview, the widget snippet."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_agent.screens.admin.agents import BadInput, agent_fields, department_ids
from tui_agent.screens.admin.reports import every_day
from tui_agent.screens.admin.settings import typed_value
from tui_agent.screens.admin.sites import widget_snippet
from tui_agent.site_widget import BadHours, field_list, hours_body, preview
from tui_agent.table_export import cell, export_csv, to_csv


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1".replace("\t", " ")),  # the tab is a control: a space, then quoted
        ("-12.5", "-12.5"),  # a number stays a number
        (-3, "-3"),
        (None, ""),
        (True, "true"),
        ("Ann\x1b[2J\u202e", "Ann"),  # no escape sequence or bidi control in the file
    ],
)
def test_csv_cells_are_never_formulas_nor_escapes(value: object, written: str) -> None:
    assert cell(value) == written


def test_csv_export_is_private_and_quoted(tmp_path: Path) -> None:
    path = export_csv(tmp_path, "Audit log", ["who", "what"], [["Ann, B", 'say "hi"']])
    assert path.parent == tmp_path / "exports" and path.name.startswith("audit-log-")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text() == to_csv(["who", "what"], [["Ann, B", 'say "hi"']])
    assert path.read_text() == 'who,what\n"Ann, B","say ""hi"""\n'


def test_departments_are_typed_by_name() -> None:
    by_name = {"Sales": "d1", "Billing": "d2"}
    assert department_ids(" billing, Sales,billing ", by_name) == ["d2", "d1"]
    assert department_ids("", by_name) == []
    with pytest.raises(BadInput, match="no department named Nowhere"):
        department_ids("Sales, Nowhere", by_name)
    assert agent_fields({"role": "Admin", "capacity": "4"}, by_name) == {
        "role": "admin", "capacity": 4}
    with pytest.raises(BadInput):
        agent_fields({"capacity": "many"}, by_name)
    with pytest.raises(BadInput):
        agent_fields({"role": "owner"}, by_name)


def test_hours_and_prechat_as_typed() -> None:
    body = hours_body("Asia/Shanghai", {"mon": "9:00-12:00, 13:00-18:00", "sat": ""}, "Hi", "")
    assert body == {
        "hours": {"tz": "Asia/Shanghai", "days": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]]}},
        "welcome_message": "Hi",
        "after_hours_message": None,
    }
    assert hours_body("", {}, "", "")["hours"] is None  # always open
    with pytest.raises(BadHours, match="time zone"):
        hours_body("", {"mon": "09:00-10:00"}, "", "")
    with pytest.raises(BadHours, match="tue: '9 to 5'"):
        hours_body("UTC", {"tue": "9 to 5"}, "", "")
    assert field_list("E-mail, name") == ["name", "email"]
    with pytest.raises(BadHours):
        field_list("phone")


def test_preview_shows_what_the_visitor_sees() -> None:
    body = hours_body("UTC", {"tue": "10:00-16:00"}, "", "Closed now")
    lines = preview(body, {"enabled": True, "fields": ["email"], "required": ["email"]})
    assert "  [greeting] (the widget default)" in lines
    assert "    E-mail *: [__________]" in lines
    assert "  We are back Tue 10:00 (UTC)" in lines and "  Closed now" in lines
    always = preview(hours_body("", {}, "Hello", ""), {"enabled": False})
    assert always[-1] == "Always in hours (no schedule)."
    assert "  The message box at once (no pre-chat form)." in always


def test_widget_snippet_and_setting_values() -> None:
    assert widget_snippet("https://chat.example.com/", 'k"><x') == (
        '<script src="https://chat.example.com/widget.js" data-site="k&quot;&gt;&lt;x" '
        "async></script>"
    )
    assert typed_value(False, "yes") is True and typed_value(True, "no") is False
    assert typed_value(None, "") is None and typed_value(200, "50") == 50


def test_the_trend_has_every_day_of_the_range() -> None:
    values = {"2026-03-01": 2.0, "2026-03-03": None, "2026-03-04": 5.0}
    assert every_day(("2026-02-28", "2026-03-04"), values) == [0.0, 2.0, 0.0, 0.0, 5.0]
