"""Every frame a test client reads goes through steadywire and must come back the same.

The server builds its frames from steadywire's classes; this is the other half of the
contract: a client parsing them with steadywire (as the console and the bridges do) gets
typed values that serialise back to the very bytes the server sent. So a field the
server adds, drops or reorders without the wire package, or an event name missing from
``steadywire.EventName``, fails the test that saw it (tests/conftest.py's ``clients``).
"""

from __future__ import annotations

from steadywire import BadFrame, Event, dumps, parse_server_frame


def roundtrip_problem(raw: str) -> str | None:
    """None when ``raw`` parses with steadywire and serialises back to the same bytes."""
    try:
        frame = parse_server_frame(raw)
    except BadFrame as err:
        return f"steadywire refuses {raw[:200]!r}: {err.message}"
    if isinstance(frame, Event):
        details = frame.details()
        if details is None:
            return f"event {frame.name!r} is not in steadywire's catalogue (EventName)"
        again = dumps(details.to_event(frame.conv))
    else:
        again = dumps(frame)
    if again != raw.encode():
        return f"steadywire turns {raw[:300]!r} into {again[:300]!r}"
    return None
