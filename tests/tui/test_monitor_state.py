"""The live monitor's state without a terminal: the snapshot, then the feed and the desk's
events applied to it (tui_agent/monitor.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.support.console_events import wire_event
from tui_agent.monitor import LiveMonitor, time_on_page

SNAPSHOT = {
    "visitors": [
        {"id": "v1", "name": "Ann", "url": "https://s.example/a", "title": "A",
         "since": "2026-12-07T10:00:00.000Z", "conv": None, "conv_status": None, "agent": None},
        {"id": "v2", "name": "Bob", "url": "https://s.example/b", "title": "B",
         "since": "2026-12-07T10:05:00.000Z", "conv": "c2", "conv_status": "queued",
         "agent": None},
    ],
    "queue": [{"conv": "c2", "visitor": {"id": "v2", "name": "Bob"},
               "since": "2026-12-07T10:06:00.000Z", "waited_secs": 60}],
    "agents": [{"id": "a1", "name": "Zoe", "status": "online", "load": 1, "capacity": 5,
                "connected": True}],
    "more_visitors": 0,
}


def test_snapshot_then_feed() -> None:
    state = LiveMonitor()
    state.load(SNAPSHOT)
    assert [v.id for v in state.visitor_rows()] == ["v1", "v2"]  # browsing first
    assert state.visitors["v2"].chat_label() == "waiting"
    now = datetime(2026, 12, 7, 10, 12, tzinfo=UTC)
    assert time_on_page(state.visitors["v1"], now) == "12m"

    def apply(name: str, conv: str, data: dict[str, Any]) -> bool:
        return state.apply(wire_event(name, conv, data))

    assert apply("visitor.online", "", {"visitor": {"type": "visitor", "id": "v3"},
                                        "at": "2026-12-07T10:11:00.000Z"})
    assert apply("visitor.seen", "", {"visitor": "v3", "url": "https://s.example/c",
                                      "title": "C", "at": "2026-12-07T10:11:30.000Z"})
    assert state.visitors["v3"].title == "C"
    assert apply("conv.assigned", "c2", {"agent": {"id": "a1", "name": "Zoe"},
                                         "visitor": {"id": "v2"}})
    assert "c2" not in state.queue and state.visitors["v2"].chat_label() == "with Zoe"
    assert state.agents["a1"].load == 2
    assert apply("conv.closed", "c2", {})
    assert not state.visitors["v2"].in_chat and state.agents["a1"].load == 1
    assert apply("agent.status", "", {"agent": {"id": "a1"}, "state": "away"})
    assert state.agents["a1"].status == "away"
    assert apply("visitor.offline", "", {"visitor": {"id": "v1"}})
    assert "v1" not in state.visitors
    assert not apply("visitor.offline", "", {"visitor": {"id": "nobody"}})
    assert not apply("conv.rated", "c2", {})

def test_hostile_and_malformed_data_is_kept_as_data() -> None:
    state = LiveMonitor()
    state.load({"visitors": [{"id": "v1", "title": "[b]x[/b]\x1b[2J", "since": 5}, "junk",
                             {"name": "no id"}], "queue": None, "agents": [{"id": 3}]})
    assert list(state.visitors) == ["v1"]
    assert state.visitors["v1"].title == "[b]x[/b]\x1b[2J"  # the screen escapes it
    assert state.visitors["v1"].since == "" and not state.agents
