"""The desk on the server's agent tools, by keys, against the real server: canned replies
from the server (and my own, edited here), search over all history, labels, transfer by
department name with live presence, the visitor's device, trail, earlier chats and
rating, and someone else's conversation (read-only; writing asks; an admin barges in)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Select, Static

from tests.support.clients import HTTP_TIMEOUT, Clients, cached_login, open_conversation
from tests.support.http import http_client
from tests.support.server import Account, ServerProcess
from tests.tui.conftest import (
    SIZE,
    bodies,
    connected,
    console,
    grab,
    save_login,
    visitor_starts,
    wait_until,
)
from tests.tui.snapshots import screen_text
from tui_agent.canned import placeholder_values
from tui_agent.config import SavedSession, save_session
from tui_agent.screens.canned_editor import CannedEditorScreen
from tui_agent.screens.confirm import ConfirmScreen
from tui_agent.screens.earlier import EarlierChatsScreen
from tui_agent.screens.labels import LabelsScreen
from tui_agent.screens.main import MainScreen
from tui_agent.screens.pick_label import PickLabelScreen
from tui_agent.screens.search import SearchScreen
from tui_agent.screens.transfer import TransferScreen
from tui_agent.widgets.composer import Composer
from tui_agent.widgets.conversation_list import ConversationList
from tui_agent.widgets.owner_banner import OwnerBanner
from tui_agent.widgets.visitor_panel import VisitorPanel


async def rest(
    server: ServerProcess, account: Account, method: str, path: str, body: Any = None
) -> httpx.Response:
    login = await cached_login(server, account)
    async with http_client(base_url=server.url, timeout=HTTP_TIMEOUT) as h:
        return await h.request(
            method,
            "/api/v1" + path,
            json=body,
            headers={"Authorization": f"Bearer {login['token']}"},
        )


def write_local_canned(config_dir: Path, **replies: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    rows = [{"shortcut": k, "body": v} for k, v in replies.items()]
    (config_dir / "canned.json").write_text(json.dumps({"replies": rows}))


def from_staff(frame: dict[str, Any]) -> bool:
    """A message the visitor did not write (its own come back as echoes)."""
    return frame.get("type") == "message" and frame["sender"]["type"] != "visitor"


def panel_text(screen: MainScreen) -> str:
    return str(screen.query_one(VisitorPanel).render())


def shown(widget: Static) -> str:
    return str(widget.render())


async def wait_for_desk(pilot: Pilot[Any]) -> MainScreen:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, MainScreen), "desk")
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def on_screen(pilot: Pilot[Any], kind: type) -> Any:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, kind), kind.__name__)
    return pilot.app.screen


async def test_canned_replies_from_the_server_and_my_own_edited_here(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    assert server.demo is not None
    me = server.demo.agents[0]
    tag = uuid.uuid4().hex[:6]
    team = await rest(
        server,
        server.demo.admin,
        "POST",
        "/canned-replies",
        {"scope": "tenant", "shortcut": f"team{tag}", "body": "Team: {agent.name} here"},
    )
    assert team.status_code == 201, team.text
    await save_login(server, config_dir, me)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        _, conv = await visitor_starts(clients, server, "Carla", "When does it arrive?")
        await grab(pilot, screen, conv)
        await wait_until(pilot, lambda: screen.canned.from_server, "server replies loaded")

        # My own reply, created from the console (f4), with the server's placeholders.
        await pilot.press("f5")
        editor = await on_screen(pilot, CannedEditorScreen)
        await pilot.press("enter")  # "+ New reply"
        await pilot.press(*f"eta{tag}", "enter")
        await pilot.press(*"Hi {visitor.name}, ref {conversation.id}", "enter")
        await wait_until(
            pilot, lambda: any(r.shortcut == f"eta{tag}" for r in editor.canned.personal()), "saved"
        )
        mine = (await rest(server, me, "GET", "/canned-replies")).json()["canned_replies"]
        created = next(r for r in mine if r["shortcut"] == f"eta{tag}")
        assert created["scope"] == "personal"
        assert created["body"] == "Hi {visitor.name}, ref {conversation.id}"

        # Edited: enter on it fills the fields; enter in the text saves.
        index = next(
            i
            for i in range(editor.query_one("#canned-list", OptionList).option_count)
            if editor.query_one("#canned-list", OptionList).get_option_at_index(i).id
            == created["id"]
        )
        await pilot.press(*["down"] * index, "enter")
        assert editor.query_one("#canned-body", Input).value == created["body"]
        await pilot.press("enter")  # shortcut unchanged, on to the text
        body = editor.query_one("#canned-body", Input)
        body.value = "Hi {visitor.name}, your parcel {conversation.id} is on its way"
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: any("on its way" in r.body for r in editor.canned.personal()),
            "edited",
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, MainScreen), "editor closed")

        # Both kinds complete in the message box, expanded as the server would.
        box = screen.query_one(Composer).input
        await pilot.press(*f"/eta{tag}", "tab")
        assert box.value == f"Hi Carla, your parcel {conv} is on its way"
        box.value = ""
        await pilot.press(*f"/team{tag}", "tab")
        assert box.value == f"Team: {screen.desk.me_name} here"
        box.value = ""

        # Deleted: delete asks (a second press), then it is gone on the server.
        await pilot.press("f5")
        editor = await on_screen(pilot, CannedEditorScreen)
        await pilot.press(*["down"] * index, "delete")
        assert any(r.shortcut == f"eta{tag}" for r in editor.canned.personal())
        await pilot.press("delete")
        await wait_until(pilot, lambda: not editor.canned.personal(), "deleted")
        mine = (await rest(server, me, "GET", "/canned-replies")).json()["canned_replies"]
        assert f"eta{tag}" not in {r["shortcut"] for r in mine}
        await pilot.press("escape")


async def test_search_finds_notes_on_the_server_filters_and_opens_read_only(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    assert server.demo is not None
    word = "zebra" + uuid.uuid4().hex[:6]
    visitor = await clients.visitor(server, name="Otto")
    owner = await clients.agent(server, server.demo.agents[1], label="owner")
    conv = await open_conversation(visitor, owner, "my order is late")
    await owner.send_json(
        {"type": "send", "conv": conv, "cid": word, "body": f"refund code {word}", "kind": "note"}
    )
    await owner.recv_type("ack", cid=word)
    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        await pilot.press("ctrl+f")
        search = await on_screen(pilot, SearchScreen)
        await pilot.press(*word)
        await wait_until(pilot, lambda: [h.conv for h in search.hits] == [conv], "note found")
        assert search.hits[0].note and not search.local
        assert word not in " ".join(bodies(pilot.app, conv))  # not loaded here: the server's

        search.query_one("#search-status", Select).value = "closed"
        await wait_until(pilot, lambda: search.hits == [], "status filter")
        search.query_one("#search-status", Select).value = "active"
        await wait_until(pilot, lambda: [h.conv for h in search.hits] == [conv], "active")
        owner_id = owner.welcome["you"]["id"] if owner.welcome else ""
        search.query_one("#search-agent", Select).value = "me"
        await wait_until(pilot, lambda: search.hits == [], "agent filter: not mine")
        search.query_one("#search-agent", Select).value = owner_id
        await wait_until(pilot, lambda: [h.conv for h in search.hits] == [conv], "the owner's")
        search.query_one("#search-from", Input).value = "2001-01-01"
        search.query_one("#search-to", Input).value = "2001-12-31"
        await wait_until(pilot, lambda: search.hits == [], "date filter")
        search.query_one("#search-to", Input).value = ""
        await wait_until(pilot, lambda: [h.conv for h in search.hits] == [conv], "from only")
        search.query_one("#search-from", Input).value = "not-a-date"
        note = search.query_one("#search-note", Static)
        await wait_until(pilot, lambda: "refused" in shown(note), "a bad date is said")
        search.query_one("#search-from", Input).value = ""
        await wait_until(pilot, lambda: len(search.hits) == 1, "again")

        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: screen.active == conv, "opened in a tab")
        banner = screen.query_one(OwnerBanner)
        await wait_until(pilot, lambda: banner.display and "has this" in shown(banner), "banner")
        await wait_until(pilot, lambda: word in " ".join(bodies(pilot.app, conv)), "history")


async def test_labels_added_and_removed_shown_on_cards_and_listed_by_label(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    tag = "vip" + uuid.uuid4().hex[:4]
    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        _, conv = await visitor_starts(clients, server, "Lena", "Hello")
        await grab(pilot, screen, conv)
        await pilot.press("f3")
        dialog = await on_screen(pilot, LabelsScreen)
        await pilot.press(*f"  {tag.upper()} ", "enter")
        await wait_until(pilot, lambda: dialog.labels == (tag,), "added (as the server says)")
        await pilot.press(*"urgent", "enter")
        await wait_until(pilot, lambda: len(dialog.labels) == 2, "two")
        assert dialog.labels == tuple(sorted((tag, "urgent")))
        await pilot.press("tab", "enter")  # the first label on the list ("urgent"): removed
        await wait_until(pilot, lambda: dialog.labels == (tag,), "removed")
        kept = dialog.labels
        await pilot.press("escape")
        await wait_until(pilot, lambda: screen.desk.get(conv).labels == kept, "on the card")
        assert server.demo is not None
        detail = await rest(server, server.demo.agents[0], "GET", f"/conversations/{conv}")
        assert tuple(detail.json()["labels"]) == kept
        assert kept[0] in panel_text(screen)
        # The list cards carry labels from the server too.
        listed = await screen.client.list_page(status="open")
        assert listed is not None
        assert next(r for r in listed.rows if r.id == conv).labels == kept

        await pilot.press("alt+l")  # open conversations by label
        search = await on_screen(pilot, SearchScreen)
        search.query_one("#search-label", Select).value = kept[0]
        await wait_until(pilot, lambda: [h.conv for h in search.hits] == [conv], "by label")
        await pilot.press("escape")


async def test_a_label_a_colleague_adds_or_removes_shows_at_once(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    tag = "liv" + uuid.uuid4().hex[:4]
    assert server.demo is not None
    colleague = server.demo.agents[1]
    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        _, conv = await visitor_starts(clients, server, "Lou", "Hello")
        await grab(pilot, screen, conv)
        path = f"/conversations/{conv}/labels"
        assert (await rest(server, colleague, "POST", path, {"label": tag})).status_code == 200
        # On its card ("#tag") and in the visitor panel, without a reload.
        await wait_until(pilot, lambda: f"#{tag}" in screen_text(pilot.app), "on the card")
        await wait_until(pilot, lambda: tag in panel_text(screen), "in the panel")
        assert (await rest(server, colleague, "DELETE", f"{path}/{tag}")).status_code == 200
        await wait_until(pilot, lambda: tag not in screen_text(pilot.app), "gone again")


def listed(screen: MainScreen, name: str) -> list[str]:
    """The conversation ids a side list shows, in order."""
    widget = screen.query_one(f"#{name}", ConversationList)
    return [widget._rows().at(i) for i in range(widget._ids)]


async def label_open_tab(pilot: Pilot[Any], tag: str) -> None:
    await pilot.press("f3")
    dialog = await on_screen(pilot, LabelsScreen)
    await pilot.press(*tag, "enter")
    await wait_until(pilot, lambda: tag in dialog.labels, "labelled")
    await pilot.press("escape")


async def test_side_lists_narrowed_to_a_label_and_back(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    tag = "lst" + uuid.uuid4().hex[:4]
    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        _, tagged = await visitor_starts(clients, server, "Tia", "Hello")
        await grab(pilot, screen, tagged)
        await label_open_tab(pilot, tag)
        _, plain = await visitor_starts(clients, server, "Pim", "Hi")
        await grab(pilot, screen, plain)
        _, queued = await visitor_starts(clients, server, "Quin", "Anyone?")
        await wait_until(pilot, lambda: queued in listed(screen, "queue"), "queued")

        await pilot.press("alt+f")
        picker = await on_screen(pilot, PickLabelScreen)
        picker.query_one(OptionList).highlighted = picker.labels.index(tag)
        await pilot.press("enter")
        await wait_until(pilot, lambda: listed(screen, "mine") == [tagged], "mine narrowed")
        assert listed(screen, "queue") == [] and listed(screen, "open") == [tagged]
        mine = screen.query_one("#mine", ConversationList)
        assert f"Mine #{tag} (1)" in str(mine.border_title)
        assert f"#{tag}" in str(screen.query_one("#queue", ConversationList).border_title)

        await label_open_tab(pilot, tag)  # the open tab is Pim's: it joins, live
        await wait_until(pilot, lambda: set(listed(screen, "mine")) == {tagged, plain}, "joined")
        assert f"Mine #{tag} (2)" in str(mine.border_title)

        await pilot.press("alt+f")  # again: all of them
        await wait_until(pilot, lambda: queued in listed(screen, "queue"), "all again")
        assert f"#{tag}" not in str(mine.border_title)
        assert {tagged, plain} <= set(listed(screen, "mine"))


async def test_transfer_lists_departments_by_name_and_agents_with_live_status(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    assert server.demo is not None
    name = f"Returns {uuid.uuid4().hex[:4]}"
    made = await rest(server, server.demo.admin, "POST", "/departments", {"name": name})
    assert made.status_code == 201, made.text
    dept = made.json()["id"]
    colleague_id = (await cached_login(server, server.demo.agents[1]))["agent"]["id"]
    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        watcher = await clients.agent(server, server.demo.agents[1], label="colleague")
        await watcher.send_json({"type": "status", "state": "away"})
        await wait_until(
            pilot, lambda: screen.desk.agent_status.get(colleague_id) == "away", "away known"
        )
        _, conv = await visitor_starts(clients, server, "Mia", "Where are my returns?")
        await grab(pilot, screen, conv)
        await pilot.press("ctrl+t")
        dialog = await on_screen(pilot, TransferScreen)
        targets = dialog.query_one("#transfer-targets", OptionList)
        prompts = [str(targets.get_option_at_index(i).prompt) for i in range(targets.option_count)]
        assert any(name in p for p in prompts), prompts
        assert not any(dept in p for p in prompts), "never an id to read or type"
        assert dialog.status_of(colleague_id).startswith("away")
        await watcher.send_json({"type": "status", "state": "online"})
        await wait_until(
            pilot, lambda: dialog.status_of(colleague_id).startswith("online"), "live status"
        )
        while targets.get_option_at_index(targets.highlighted or 0).id != "dept:" + dept:
            await pilot.press("down")
        await pilot.press("tab", *"please check the parcel", "enter")
        event = await watcher.recv_until(
            lambda f: f.get("name") == "conv.transferred" and f.get("conv") == conv,
            10,
            "transferred",
        )
        assert event["data"]["to_department"]["id"] == dept
        assert event["data"]["note"] == "please check the parcel"
        await wait_until(
            pilot, lambda: name in panel_text(screen), "the panel names the department"
        )


async def test_visitor_panel_device_live_trail_earlier_chats_and_rating(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        visitor, first = await visitor_starts(clients, server, "Nora", "First question")
        await grab(pilot, screen, first)
        await pilot.press("ctrl+l", "y")
        await visitor.recv_event("conv.closed", first)
        await visitor.send_json({"type": "rate", "conv": first, "rating": 4, "comment": "quick"})
        await wait_until(pilot, lambda: "★★★★☆ 4/5" in panel_text(screen), "rating shown")
        assert "quick" in panel_text(screen)

        ack = await visitor.send_and_ack("Second question")  # a new, linked conversation
        second = str(ack["conv"])
        assert second != first
        await grab(pilot, screen, second)
        await wait_until(pilot, lambda: "Earlier" in panel_text(screen), "earlier chats")
        detail = screen.desk.get(second).visitor
        assert detail.browser or detail.os or "Device" in panel_text(screen)

        for i in range(3):
            await visitor.send_json(
                {"type": "page", "url": f"https://shop.example/p/{i}", "title": f"Product {i}"}
            )
        await wait_until(pilot, lambda: "▸ Product 2" in panel_text(screen), "live trail")
        assert "Product 0" in panel_text(screen) and "Product 1" in panel_text(screen)

        await pilot.press("f7")
        earlier = await on_screen(pilot, EarlierChatsScreen)
        assert [c.id for c in earlier.chats] == [first]
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.active == first, "earlier chat opened")
        assert screen.query_one(Composer).blocked  # closed: read-only


async def test_writing_into_someone_elses_chat_asks_and_an_admin_barges_in(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    assert server.demo is not None
    visitor = await clients.visitor(server, name="Pia")
    owner = await clients.agent(server, server.demo.agents[1], label="owner")
    conv = await open_conversation(visitor, owner, "nobody answers me")
    admin = (await cached_login(server, server.demo.admin))["agent"]
    await save_login(server, config_dir, server.demo.admin)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        await wait_until(pilot, lambda: screen.desk.is_admin, "knows it is an admin")
        await wait_until(pilot, lambda: conv in screen.desk.conversations, "listed")
        await screen.open_tab(conv)
        banner = screen.query_one(OwnerBanner)
        await wait_until(pilot, lambda: "barges in" in shown(banner), "read-only banner")

        await pilot.press(*"Hello from the lead", "enter")
        question = await on_screen(pilot, ConfirmScreen)
        assert "Barge in?" in str(question.question)
        await pilot.press("n")  # no: nothing sent, nothing lost
        box = screen.query_one(Composer).input
        await wait_until(pilot, lambda: box.value == "Hello from the lead", "draft kept")
        await visitor.expect_no_frame(from_staff, within=0.3)

        await pilot.press("enter")
        await on_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        joined = await visitor.recv_until(from_staff, 10, "joined")
        assert joined["sender"]["type"] == "system"
        assert joined["body"] == f"{admin['name']} joined the conversation"
        said = await visitor.recv_type("message", conv=conv, body="Hello from the lead")
        assert said["sender"]["id"] == admin["id"]
        await pilot.press(*"and again", "enter")  # asked once per conversation
        await visitor.recv_type("message", conv=conv, body="and again")


async def test_an_agent_is_asked_and_does_not_barge_in(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    assert server.demo is not None
    visitor = await clients.visitor(server, name="Quinn")
    owner = await clients.agent(server, server.demo.agents[1], label="owner")
    conv = await open_conversation(visitor, owner, "hello?")
    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        await wait_until(pilot, lambda: conv in screen.desk.conversations, "listed")
        await screen.open_tab(conv)
        banner = screen.query_one(OwnerBanner)
        await wait_until(pilot, lambda: "transfer it" in shown(banner), "read-only banner")
        await pilot.press(*"I can help too", "enter")
        question = await on_screen(pilot, ConfirmScreen)
        assert "anyway" in str(question.question)
        await pilot.press("y")
        said = await visitor.recv_until(from_staff, 10, "the agent's words")
        assert said["body"] == "I can help too"  # no "joined" line: only admins barge in


async def test_offline_the_local_canned_file_and_local_search_are_used_and_said(
    config_dir: Path,
) -> None:
    """The server not reached (a closed port): canned.json is the fallback, with the
    server's placeholder syntax, and search filters what is loaded, saying both."""
    write_local_canned(config_dir, refund="Hi {visitor.name}, soon. {agent.name}")
    save_session(
        SavedSession(
            "http://127.0.0.1:9",
            "default",
            "a@b.c",
            "token",
            "2999-01-01T00:00:00Z",
            {"id": "a1", "name": "Ann"},
        ),
        config_dir,
    )
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await wait_for_desk(pilot)
        await wait_until(pilot, lambda: "unavailable" in screen.canned.problem, "fallback said")
        assert screen.canned.source.endswith("canned.json")
        reply = screen.query_one(Composer).canned.find("refund")
        assert reply is not None
        assert reply.render(placeholder_values("Bo", "", "Ann", "c1")) == "Hi Bo, soon. Ann"
        await pilot.press("f5")  # nothing to edit on a server that is not there
        await pilot.pause()
        assert isinstance(pilot.app.screen, MainScreen)
        await pilot.press("ctrl+f")
        search = await on_screen(pilot, SearchScreen)
        await wait_until(pilot, lambda: search.local, "local search")
        assert "not available" in shown(search.query_one("#search-note", Static))
        await pilot.press("escape")
