"""Events for the console's sans-I/O tests, read the way the console reads them.

The desk and the live monitor take the typed events the client makes of the wire
(:func:`tui_agent.events.conversation_event`); these helpers serialise an event frame and
send it through the same edge, so a unit test feeds exactly what a server's frame gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from steadywire import Event, dumps, parse_server_frame
from tui_agent.desk import Desk, Notice
from tui_agent.events import ConversationEvent, conversation_event


def wire_event(name: str, conv: str, data: Mapping[str, Any]) -> ConversationEvent:
    frame = parse_server_frame(
        dumps({"type": "event", "name": name, "conv": conv or None, "data": dict(data)})
    )
    assert isinstance(frame, Event)
    event = conversation_event(frame)
    assert event is not None, f"the console ignores {name!r}"
    return event


def apply_event(desk: Desk, name: str, conv: str, data: Mapping[str, Any]) -> Notice | None:
    """``desk.apply_event`` of the event frame ``name``/``conv``/``data``."""
    return desk.apply_event(wire_event(name, conv, data))
