"""The event catalogue cannot drift from what the server emits.

The server builds every frame and event from steadywire's classes, whose names are
``EventName``'s; a hand-built frame dict or a bare ``Event(...)`` in ``server/`` (the
way a new, uncatalogued event would sneak in) fails here. The bus-only signals
(``server/bus/signals.py``) are the one exception and never reach a client.
tests/support/wire_roundtrip.py checks the other side: every frame a protocol test
reads parses with steadywire and serialises back to the same bytes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import steadywire as w
from server.bus.signals import Signal
from steadywire import events
from tests.support.wire_roundtrip import roundtrip_problem

SERVER = Path(__file__).resolve().parents[3] / "server"
FRAME_TYPES = set(w.SERVER_FRAMES)  # welcome, message, ack, batch, event, ...
SIGNALS_MODULE = SERVER / "bus" / "signals.py"


def _details_classes() -> list[type]:
    return [
        cls
        for cls in vars(events).values()
        if isinstance(cls, type) and issubclass(cls, events._Details) and cls is not events._Details
    ]


def _frame_dicts(tree: ast.AST) -> list[tuple[int, str]]:
    """Dict literals that spell a server frame: ``{"type": "<frame type>", ...}``."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
        for key, value in zip(node.keys, node.values, strict=True):
            if (
                isinstance(key, ast.Constant)
                and key.value == "type"
                and isinstance(value, ast.Constant)
                and value.value in FRAME_TYPES
                # The bus's envelope of a stored message (an object, not a frame).
                and sorted(keys) != ["message", "type"]
            ):
                found.append((node.lineno, value.value))
    return found


def _bare_events(tree: ast.AST) -> list[int]:
    """Calls of steadywire's ``Event`` (not asyncio's): an event built by its name."""
    imported = any(
        isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("steadywire")
        and any(alias.name == "Event" for alias in node.names)
        for node in ast.walk(tree)
    )
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (imported and isinstance(node.func, ast.Name) and node.func.id == "Event")
            or (
                isinstance(node.func, ast.Attribute)
                and node.func.attr == "Event"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"steadywire", "w"}
            )
        )
    ]


def test_every_typed_event_is_named_in_the_catalogue() -> None:
    names = set()
    for cls in _details_classes():
        names |= {cls.NAME} if cls.NAME else set()
    names |= {"agent.presence", "visitor.presence", "visitor.online", "visitor.offline"}
    assert names == set(w.EventName)
    assert w.PresenceChanged(w.Sender("visitor", "v"), True).name == w.EventName.VISITOR_PRESENCE
    assert w.PresenceChanged(w.Sender("agent", "a"), True).name == w.EventName.AGENT_PRESENCE


def test_every_catalogued_event_parses_to_its_typed_data() -> None:
    for name in w.EventName:
        assert w.Event(name.value, None, {}).details() is not None, name


def test_the_server_builds_no_frame_or_event_by_hand() -> None:
    hand_built = []
    for path in sorted(SERVER.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        where = path.relative_to(SERVER.parent)
        hand_built += [
            f"{where}:{line}: a {kind!r} frame dict" for line, kind in _frame_dicts(tree)
        ]
        if path != SIGNALS_MODULE:
            hand_built += [f"{where}:{line}: Event(...) by name" for line in _bare_events(tree)]
    assert not hand_built, "build these from steadywire's classes:\n" + "\n".join(hand_built)


def test_bus_signals_are_not_wire_events() -> None:
    assert not {s.value for s in Signal} & {n.value for n in w.EventName}


def test_the_clients_round_trip_check_names_each_kind_of_drift() -> None:
    closed = b'{"type":"event","name":"conv.closed","conv":"c1","data":{"by":{"type":"agent","id":"a1","name":"Ann"}}}'  # noqa: E501
    assert roundtrip_problem(closed.decode()) is None
    extra = closed.replace(b'"Ann"}}', b'"Ann"},"why":"x"}')  # a field the classes lack
    reordered = b'{"type":"ack","conv":"c1","cid":"k","id":"m1","seq":1,"ts":"t"}'
    unknown = b'{"type":"event","name":"conv.exploded","conv":"c1","data":{}}'
    refused = b'{"type":"message","conv":"c1"}'  # no seq
    for raw, says in [
        (extra, "turns"),
        (reordered, "turns"),
        (unknown, "not in steadywire's catalogue"),
        (refused, "refuses"),
    ]:
        problem = roundtrip_problem(raw.decode())
        assert problem is not None and says in problem, raw
