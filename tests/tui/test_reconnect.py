"""The console across a server restart: it shows reconnecting, then resumed, and every
message, the visitor's sent meanwhile and its own typed meanwhile, appears once, in order."""

from __future__ import annotations

from pathlib import Path

from tests.support.clients import Clients
from tests.support.server import ServerFactory
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
from tui_agent.models import ConnectionState
from tui_agent.widgets.connection_indicator import ConnectionIndicator
from tui_agent.widgets.conversation_log import ConversationLog


def log_text(log: ConversationLog) -> str:
    return "\n".join(line.text for line in log.lines)


async def test_kill_and_restart_replays_missed_messages_once_in_order(
    server_factory: ServerFactory, config_dir: Path, clients: Clients
) -> None:
    own = server_factory()
    await save_login(own, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        indicator = screen.query_one(ConnectionIndicator)
        visitor, conv = await visitor_starts(clients, own, "Hana", "before the crash")
        await grab(pilot, screen, conv)
        await pilot.press(*"hello Hana", "enter")
        await visitor.recv_type("message", conv=conv, body="hello Hana")

        await own.akill9()
        await wait_until(
            pilot, lambda: indicator.state is ConnectionState.RECONNECTING, "reconnecting shown"
        )
        await pilot.press(*"typed while down", "enter")  # pending until it is back
        assert "sending" in log_text(screen.query_one(ConversationLog))

        await own.astart()
        revisit = await clients.visitor(
            own, session=dict(visitor.session), resume={conv: 2}, label="visitor-again"
        )
        for body in ("missed 1", "missed 2", "missed 3"):
            await revisit.send_and_ack(body, conv=conv)

        await wait_until(
            pilot,
            lambda: indicator.state is ConnectionState.RESUMED,
            "resumed shown",
            limit_secs=20,
        )
        want = [
            "before the crash",
            "hello Hana",
            "missed 1",
            "missed 2",
            "missed 3",
            "typed while down",
        ]
        await wait_until(
            pilot,
            lambda: sorted(bodies(pilot.app, conv)) == sorted(want),
            "every message shown",
        )
        shown = bodies(pilot.app, conv)
        assert [b for b in shown if b.startswith("missed")] == ["missed 1", "missed 2", "missed 3"]
        seqs = sorted(screen.desk.get(conv).messages)
        assert seqs == list(range(1, len(want) + 1))
        log = screen.query_one(ConversationLog)
        await wait_until(  # drawn with the next frame
            pilot,
            lambda: all(body in log_text(log) for body in want) and "sending" not in log_text(log),
            "every message drawn",
        )
        text = log_text(log)
        for body in want:
            assert text.count(body) == 1, f"{body!r} shown {text.count(body)} times:\n{text}"
        assert "sending" not in text
        positions = [text.index(b) for b in ("missed 1", "missed 2", "missed 3")]
        assert positions == sorted(positions)
        history = await revisit.history(conv)
        assert [m["body"] for m in history].count("typed while down") == 1
