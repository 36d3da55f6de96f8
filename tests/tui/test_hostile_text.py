"""Hostile text through every place the console shows visitor or agent text.

Markup (``Eve [/x]`` crashed every console with a MarkupError, ``[@click=app.quit]``
became an action, ``[link=...]`` a disguised hyperlink) and terminal escape codes (CSI,
OSC 8 hyperlinks, OSC 52 clipboard writes, C1 controls, bidi overrides, lone
surrogates) must be shown as inert text: no crash, and nothing but Textual's own
sequences written to the terminal (tests/tui/terminal_output.py).

The catalogue reaches the screen through the client's own frame parser (the frames a
server could relay: a server stores bodies exactly as sent), and once end to end from a
real visitor through the real server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tests.support.clients import Clients
from tests.support.server import ServerProcess
from tests.tui.conftest import SIZE, connected, console, desk_screen, save_login, wait_until
from tests.tui.terminal_output import terminal_output, terminal_problems, visible_text
from tui_agent.messages import AgentsLoaded, LoginFailed
from tui_agent.models import AgentInfo
from tui_agent.screens.confirm import ConfirmScreen
from tui_agent.screens.login import LoginScreen
from tui_agent.screens.main import MainScreen
from tui_agent.screens.search import Hit, SearchScreen
from tui_agent.screens.transfer import TransferScreen

HOSTILE = (
    "Eve [/x]",
    "[@click=app.quit]x[/]",
    "[link=https://evil.example]https://bank.example[/link]",
    "[b]bold [red]red",
    "clear\x1b[2Jscreen\x1b[H",
    "8-bit\x9b2Jcsi",
    "\x1b]8;;https://evil.example\x1b\\click me\x1b]8;;\x1b\\",
    "copy\x1b]52;c;SEVMTE8=\x07done",
    "title\x1b]0;pwned\x1b\\x",
    "reset\x1bcnow",
    "invoice\u202egnp.exe",
    "iso\u2066late\u2069d",
    "lone\ud800surrogate",
    "ding\x07back\x08tab\tvt\x0bff\x0ccr\rdel\x7f",
)
# What must be visible, literally (shown as text, not parsed as markup).
LITERAL = ("Eve [/x]", "[@click=app.quit]x[/]", "[link=https://evil.example]")
TS = "2026-11-29T07:43:52.654Z"


def _visitor(index: int, text: str) -> dict[str, Any]:
    return {
        "id": f"v-hostile-{index}",
        "name": text,
        "email": text,
        "language": text,
        "page_url": text,
        "referrer": text,
        "visit_count": 2,
    }


def _message(conv: str, seq: int, text: str, sender: dict[str, Any], kind: str = "text") -> dict:
    return {
        "type": "message",
        "conv": conv,
        "id": f"{conv}-m{seq}",
        "seq": seq,
        "ts": TS,
        "kind": kind,
        "body": text,
        "html": "",
        "cid": "",
        "sender": sender,
    }


class Feeder:
    """Hands frames to the console's client exactly as they would come off the socket."""

    def __init__(self, pilot: Pilot[Any], screen: MainScreen) -> None:
        self.pilot = pilot
        self.screen = screen
        self.stages: list[str] = []

    def frame(self, frame: dict[str, Any]) -> None:
        self.screen.client._dispatch(json.dumps(frame))

    def event(self, name: str, conv: str, data: dict[str, Any]) -> None:
        self.frame({"type": "event", "name": name, "conv": conv, "data": data})

    async def check(self, stage: str) -> str:
        """Let the app draw, then read what it would write to the terminal."""
        await self.pilot.pause()
        await self.pilot.pause(0.05)
        app = self.pilot.app
        assert app._exception is None, f"{stage}: the console crashed: {app._exception!r}"
        output = terminal_output(app)
        problems = terminal_problems(output)
        assert not problems, f"{stage}: written to the terminal:\n" + "\n".join(problems[:10])
        output.encode("utf-8")  # a lone surrogate would make the real driver fail here
        self.stages.append(stage)
        return visible_text(output)


async def test_hostile_text_everywhere_is_inert(
    server: ServerProcess, config_dir: Path, clean_desk: None
) -> None:
    session = await save_login(server, config_dir)
    me = {"type": "agent", "id": session.agent["id"], "name": session.agent["name"]}
    app = console(config_dir)
    app.bell = lambda: None  # type: ignore[method-assign]
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await connected(pilot)
        await wait_until(pilot, lambda: screen.lists_ready, "lists loaded")
        feed = Feeder(pilot, screen)
        convs = [f"c-hostile-{i}" for i in range(len(HOSTILE))]
        seen = ""
        for index, (conv, text) in enumerate(zip(convs, HOSTILE, strict=True)):
            visitor = _visitor(index, text)
            sender = {"type": "visitor", "id": visitor["id"], "name": text}
            feed.event(
                "conv.queued",
                conv,
                {
                    "status": "queued",
                    "created_at": TS,
                    "visitor": visitor,
                    "department": text,
                    "messages": [_message(conv, 1, text, sender)],
                },
            )
            seen += await feed.check(f"queued {text!r}: toast and queue row")
        for literal in LITERAL:
            assert literal in seen, f"{literal!r} is not shown as text"

        offered, rest = convs[0], convs[1:]
        feed.event("conv.offered", offered, {"agent": me, "timeout_secs": 30})
        await feed.check("offer notice")
        other = {"type": "agent", "id": "a-hostile", "name": HOSTILE[1]}
        for index, conv in enumerate(rest):
            agent = me if index % 2 == 0 else {**other, "name": HOSTILE[index]}
            feed.event("conv.assigned", conv, {"agent": agent, "last_seq": 1})
        await feed.check("assigned: mine and all-open rows with agent names")
        mine = rest[0::2]

        for conv in mine:
            await screen.open_tab(conv)
            await feed.check(f"open tab {conv}: tab label, log title, visitor panel")
        active = screen.active
        assert active is not None
        for index, text in enumerate(HOSTILE):
            feed.frame(
                {
                    "type": "typing",
                    "conv": active,
                    "on": True,
                    "sender": {"type": "visitor", "id": "v", "name": text},
                }
            )
            feed.frame(_message(mine[0], 2 + index, text, {"type": "visitor", "name": text}))
            agent = {"type": "agent", "id": "x", "name": text}
            feed.frame(_message(active, 2 + index, text, agent))
            feed.event("visitor.seen", active, {"url": text, "title": text, "at": TS})
            await feed.check(f"typing, background message, agent message {text!r}")
        text = HOSTILE[0]
        feed.frame(_message(active, 99, text, {"type": "agent", "id": "x", "name": text}, "note"))
        feed.event(
            "conv.transferred",
            active,
            {"from": {**other, "name": text}, "to_department": {"id": text, "name": text},
             "note": text},
        )
        feed.event("agent.status", "", {"agent": me, "state": HOSTILE[4]})
        await feed.check("note, transfer note, own status")

        await screen.open_tab(mine[1])
        # Refused before the server's own answer can arrive (no await in between).
        cid = screen.client.send(mine[1], "a reply")
        screen.desk.add_pending(mine[1], cid, "a reply", "text")
        feed.frame({"type": "error", "code": "refused", "message": HOSTILE[6], "cid": cid})
        feed.frame({"type": "error", "code": HOSTILE[3], "message": HOSTILE[7]})
        await feed.check("refused send and server error")

        agents = [
            AgentInfo.from_wire(
                {"id": f"a{i}", "name": t, "email": t, "role": "agent", "status": t}
            )
            for i, t in enumerate(HOSTILE)
        ]
        departments = [(f"d{i}", t) for i, t in enumerate(HOSTILE)]
        screen.post_message(AgentsLoaded(agents, for_transfer=True, departments=departments))
        await wait_until(pilot, lambda: isinstance(app.screen, TransferScreen), "transfer")
        await feed.check("transfer picker")
        await pilot.press("escape")

        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await feed.check("close question")
        await pilot.press("n")

        for conv, text in zip(convs, HOSTILE, strict=True):
            feed.event("conv.closed", conv, {"by": {"type": "agent", "id": "x", "name": text}})
        await feed.check("closed by")
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen), "search")
        search = app.screen
        assert isinstance(search, SearchScreen)
        await feed.check("search dialog")
        # The server's hits (visitor, agent, department names and snippets are anyone's
        # text), drawn as the server would answer them.
        search._show(
            [
                Hit.from_wire(
                    {
                        "conv": conv,
                        "status": "active",
                        "ts": TS,
                        "snippet": text,
                        "kind": "note",
                        "department": "d",
                        "visitor": {"name": text},
                        "agent": {"name": text},
                    },
                    {"d": text},
                )
                for conv, text in zip(convs, HOSTILE, strict=True)
            ]
        )
        shown = await feed.check("search results")
        assert "Eve [/x]" in shown
        await pilot.press("escape")

        desk_screen(app)
        app.logout(HOSTILE[5])
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen), "login form")
        await feed.check("login notice")
        app.screen.post_message(LoginFailed(HOSTILE[8]))
        await feed.check("login failure")
    assert app._exception is None


async def test_hostile_visitor_end_to_end(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    """A real visitor whose name, e-mail, page, message and typing are hostile."""
    await save_login(server, config_dir)
    name = "Eve [/x] \x1b[2J\x1b]52;c;SEVMTE8=\x07\u202e"
    app = console(config_dir)
    app.bell = lambda: None  # type: ignore[method-assign]
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await connected(pilot)
        visitor = await clients.visitor(
            server,
            name=name,
            email="[@click=app.quit]x[/]",
            page_url="https://shop.example/[link=https://evil.example]x[/link]",
        )
        ack = await visitor.send_and_ack("hi \x1b]8;;https://evil.example\x1b\\there\x1b]8;;\x1b\\")
        conv = str(ack["conv"])
        await wait_until(pilot, lambda: conv in [c.id for c in screen.desk.queue()], "queued")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: screen.active == conv, "grabbed")
        await visitor.send_json({"type": "typing", "conv": conv, "on": True})
        await wait_until(pilot, lambda: screen.desk.get(conv).visitor_typing, "typing")
        feed = Feeder(pilot, screen)
        shown = await feed.check("real visitor")
        assert "Eve [/x]" in shown and "[@click=app.quit]" in shown
