"""Attachments in the console (issue #19): shown escaped, saved under a harmless name that
never overwrites, opened on request; a file sent by path, with clear errors.

The hostile names reach the screen through the client's own frame parser (what a server
could relay); the bytes saved come from the real server over HTTP.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from textual.pilot import Pilot
from textual.widgets import Input

from steadywire.server_frames import Attachment
from tests.support.clients import Clients, get
from tests.support.http import http_client
from tests.support.server import ServerProcess
from tests.tui.conftest import (
    SIZE,
    connected,
    console,
    grab,
    save_login,
    visitor_starts,
    wait_until,
)
from tests.tui.terminal_output import terminal_output, terminal_problems, visible_text
from tui_agent.attachments import (
    DOWNLOADS_ENV,
    FileRefused,
    describe,
    file_to_send,
    free_path,
    safe_file_name,
)
from tui_agent.screens.files import FilesScreen
from tui_agent.screens.main import MainScreen
from tui_agent.screens.send_file import SendFileScreen

TS = "2026-12-07T01:00:00.000Z"
HOSTILE_NAMES = (
    "[@click=app.quit]x[/].png",
    "clear\x1b[2Jscreen.pdf",
    "copy\x1b]52;c;SEVMTE8=\x07done.txt",
    "invoice\u202egnp.exe",
    "../../.bashrc",
)


def test_safe_file_names() -> None:
    assert safe_file_name("../../.bashrc") == "bashrc"
    assert safe_file_name("/etc/passwd") == "etc_passwd"
    assert safe_file_name("..") == "attachment"
    assert safe_file_name("a\x1b[2Jb c.png") == "ab_c.png"
    assert safe_file_name("invoice\u202egnp.exe") == "invoicegnp.exe"
    assert safe_file_name("x|y;$(rm -rf).sh") == "x_y_(rm_-rf).sh"
    assert safe_file_name("[@click=app.quit]x[/].png") == "click_app.quit_x_.png"
    assert safe_file_name("照片 1.jpg") == "照片_1.jpg"
    long = safe_file_name("a" * 500 + ".jpeg")
    assert len(long) <= 120 and long.endswith(".jpeg")


def test_free_path_never_overwrites(tmp_path: Path) -> None:
    first = free_path(tmp_path, "photo.png")
    first.write_bytes(b"1")
    second = free_path(tmp_path, "photo.png")
    assert second.name == "photo (2).png"
    second.write_bytes(b"2")
    assert free_path(tmp_path, "photo.png").name == "photo (3).png"
    assert free_path(tmp_path, "README").name == "README"


def test_file_to_send_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(FileRefused, match="Type the path"):
        file_to_send("  ")
    with pytest.raises(FileRefused, match="No such file"):
        file_to_send(str(tmp_path / "nope.png"))
    with pytest.raises(FileRefused, match="Not a file"):
        file_to_send(str(tmp_path))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(FileRefused, match="empty"):
        file_to_send(str(empty))
    good = tmp_path / "good.txt"
    good.write_text("hello")
    assert file_to_send(f" {good} ") == good


def test_describe_is_inert_text() -> None:
    for name in HOSTILE_NAMES:
        line = describe(Attachment("a1", name, 2_500_000, "image/png", "", ""))
        assert "\x1b" not in line.plain and "\x07" not in line.plain
        assert "\u202e" not in line.plain
        assert line.plain.endswith("· 2.4 MB · image/png")
    assert (
        "[@click=app.quit]x[/].png"
        in describe(Attachment("a1", HOSTILE_NAMES[0], 10, "", "", "")).plain
    )


def _message(conv: str, seq: int, attachments: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "message",
        "conv": conv,
        "id": f"{conv}-m{seq}",
        "seq": seq,
        "ts": TS,
        "kind": "text",
        "body": "",
        "html": "",
        "cid": "",
        "sender": {"type": "visitor", "id": "v-att", "name": "Eve"},
        "attachments": attachments,
    }


async def type_path(pilot: Pilot[Any], path: Path) -> None:
    """The path pasted into the prompt (a key press per character is slow), then enter."""
    pilot.app.screen.query_one(Input).value = str(path)
    await pilot.press("enter")


async def _screen_check(pilot: Pilot[Any], stage: str) -> str:
    await pilot.pause()
    await pilot.pause(0.05)
    app = pilot.app
    assert app._exception is None, f"{stage}: the console crashed: {app._exception!r}"
    output = terminal_output(app)
    problems = terminal_problems(output)
    assert not problems, f"{stage}: written to the terminal:\n" + "\n".join(problems[:10])
    return visible_text(output)


async def test_hostile_attachments_are_shown_inert_saved_and_opened(
    server: ServerProcess,
    config_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_desk: None,
) -> None:
    downloads = tmp_path / "downloads"
    monkeypatch.setenv(DOWNLOADS_ENV, str(downloads))
    await save_login(server, config_dir)
    served = (await get(server, "/widget.js")).content  # real bytes from the real server
    app = console(config_dir)
    app.bell = lambda: None  # type: ignore[method-assign]
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await connected(pilot)
        await wait_until(pilot, lambda: screen.lists_ready, "lists loaded")
        opened: list[Path] = []
        screen.opener = opened.append  # the desktop's viewer, recorded instead of started
        conv = "c-attach-hostile"
        atts = [
            {
                "id": f"att{i}",
                "name": name,
                "size": 1000 + i,
                "type": "application/pdf",
                "url": server.url + "/widget.js",
                "expires_at": "2099-01-01T00:00:00Z",
            }
            for i, name in enumerate(HOSTILE_NAMES)
        ]
        atts.append({"name": "no id: left out"})
        screen.client._dispatch(
            json.dumps(
                {
                    "type": "event",
                    "name": "conv.queued",
                    "conv": conv,
                    "data": {
                        "status": "queued",
                        "created_at": TS,
                        "visitor": {"id": "v-att", "name": "Eve"},
                        "messages": [_message(conv, 1, atts)],
                    },
                }
            )
        )
        await wait_until(pilot, lambda: conv in screen.desk.conversations, "queued")
        await screen.open_tab(conv)
        shown = await _screen_check(pilot, "log with hostile names")
        assert "[@click=app.quit]x[/].png" in shown
        assert "no id" not in shown
        assert len(screen.desk.get(conv).messages[1].attachments) == len(HOSTILE_NAMES)

        await pilot.press("f6")
        await wait_until(pilot, lambda: isinstance(app.screen, FilesScreen), "files list")
        shown = await _screen_check(pilot, "files list")
        assert "1000 B · application/pdf" in shown
        await pilot.press("enter")  # the first: the newest message's first file
        saved = downloads / "click_app.quit_x_.png"
        await wait_until(pilot, lambda: saved.exists() and saved.stat().st_size, "saved")
        assert saved.read_bytes() == served
        await pilot.press("down", "o")
        second = downloads / "clearscreen.pdf"
        await wait_until(pilot, lambda: opened == [second], "saved and opened")
        assert second.read_bytes() == served
        await pilot.press("up", "s")  # again: a new name, the first stays
        again = downloads / "click_app.quit_x_ (2).png"
        await wait_until(pilot, again.exists, "saved again")
        assert sorted(p.name for p in downloads.iterdir()) == [
            "clearscreen.pdf",
            "click_app.quit_x_ (2).png",
            "click_app.quit_x_.png",
        ]
        await _screen_check(pilot, "after saving")
        await pilot.press("escape")


async def test_send_file_dialog_explains_bad_paths(
    server: ServerProcess, config_dir: Path, tmp_path: Path, clean_desk: None
) -> None:
    await save_login(server, config_dir)
    app = console(config_dir)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen: MainScreen = await connected(pilot)
        await pilot.press("f4")
        await pilot.pause()
        assert not isinstance(app.screen, SendFileScreen)  # nothing open: nothing to send to
        conv = "c-attach-dialog"
        screen.client._dispatch(
            json.dumps(
                {
                    "type": "event",
                    "name": "conv.queued",
                    "conv": conv,
                    "data": {
                        "status": "queued",
                        "created_at": TS,
                        "visitor": {"id": "v-att", "name": "Eve [/x]"},
                        "messages": [_message(conv, 1, [])],
                    },
                }
            )
        )
        await wait_until(pilot, lambda: conv in screen.desk.conversations, "queued")
        await screen.open_tab(conv)
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, SendFileScreen), "path prompt")
        await type_path(pilot, tmp_path / "missing.png")
        shown = await _screen_check(pilot, "missing file")
        assert "No such file" in shown and isinstance(app.screen, SendFileScreen)
        await type_path(pilot, tmp_path)
        shown = await _screen_check(pilot, "a directory")
        assert "Not a file" in shown and isinstance(app.screen, SendFileScreen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SendFileScreen), "closed")
        assert not screen.desk.get(conv).pending


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 80), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


async def test_files_both_ways_with_a_visitor(
    server: ServerProcess,
    config_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clients: Clients,
    clean_desk: None,
) -> None:
    downloads = tmp_path / "downloads"
    monkeypatch.setenv(DOWNLOADS_ENV, str(downloads))
    await save_login(server, config_dir)
    visitor, conv = await visitor_starts(clients, server, "Vera", "The label is torn")
    token = visitor.session["token"]
    async with http_client(base_url=server.url) as http:
        up = await http.post(
            "/api/v1/attachments",
            headers={"Authorization": f"Bearer {token}"},
            data={"conv": conv},
            files={"file": ("torn label.png", _png())},
        )
        assert up.status_code == 201, up.text
        await visitor.send_and_ack("", conv, attachments=[up.json()["id"]])
        app = console(config_dir)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await connected(pilot)
            await grab(pilot, screen, conv)
            await wait_until(
                pilot,
                lambda: any(m.attachments for m in screen.desk.get(conv).ordered()),
                "the visitor's image in the conversation",
            )
            shown = await _screen_check(pilot, "image in the log")
            assert "📎 torn label.png" in shown and "image/png" in shown

            await pilot.press("f6")
            await wait_until(pilot, lambda: isinstance(app.screen, FilesScreen), "files")
            await pilot.press("enter")
            saved = downloads / "torn_label.png"
            await wait_until(pilot, lambda: saved.exists() and saved.stat().st_size > 0, "saved")
            served = await http.get(up.json()["url"])
            assert saved.read_bytes() == served.content
            await pilot.press("escape")

            pdf = tmp_path / "return form.pdf"
            pdf.write_bytes(MINIMAL_PDF)
            await pilot.press("f4")
            await wait_until(pilot, lambda: isinstance(app.screen, SendFileScreen), "prompt")
            await type_path(pilot, pdf)
            got = await visitor.recv_until(
                lambda f: (
                    f["type"] == "message"
                    and f["sender"]["type"] == "agent"
                    and bool(f.get("attachments"))
                ),
                10,
                "the pdf",
            )
            (att,) = got["attachments"]
            assert (att["name"], att["type"], att["size"]) == (
                "return form.pdf",
                "application/pdf",
                len(MINIMAL_PDF),
            )
            assert got["sender"]["type"] == "agent" and got["body"] == ""
            fetched = await http.get(att["url"])
            assert fetched.status_code == 200 and fetched.content == MINIMAL_PDF
            await wait_until(pilot, lambda: not screen.desk.get(conv).pending, "acked")

            # A file the server refuses (markup): said clearly, nothing sent.
            page = tmp_path / "page.png"
            page.write_bytes(b"<html><script>alert(1)</script></html>")
            await pilot.press("f4")
            await wait_until(pilot, lambda: isinstance(app.screen, SendFileScreen), "prompt")
            await type_path(pilot, page)
            await wait_until(
                pilot,
                lambda: any(p.failed for p in screen.desk.get(conv).pending.values()),
                "refused",
            )
            shown = await _screen_check(pilot, "refused upload")
            assert "not allowed" in shown
