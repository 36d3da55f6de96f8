"""Text in, typed frame out; typed frame in, bytes out. No I/O.

``parse(text, side)`` decodes one WebSocket text frame sent by ``side`` (what a server
reads is ``Side.CLIENT``; what a client reads is ``Side.SERVER``) and raises
:class:`~steadywire.errors.BadFrame` for anything that is not a valid frame of that side.
``dumps(frame)`` serialises a frame (or a plain dict) with orjson.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Any

import orjson

from steadywire.client_frames import CLIENT_FRAMES, ClientFrame
from steadywire.errors import BadFrame, NotAccepted, UnknownFrameType
from steadywire.events import Event
from steadywire.server_frames import (
    Ack,
    Batch,
    Error,
    Message,
    Pong,
    ReadNotice,
    TypingNotice,
    Welcome,
)

ServerFrame = Welcome | Message | Ack | Batch | Event | TypingNotice | ReadNotice | Pong | Error
SERVER_FRAMES: dict[str, type[ServerFrame]] = {
    cls.type: cls
    for cls in (Welcome, Message, Ack, Batch, Event, TypingNotice, ReadNotice, Pong, Error)
}
Frame = ClientFrame | ServerFrame


class Side(StrEnum):
    """Who sent the text being parsed."""

    CLIENT = "client"
    SERVER = "server"


def decode(text: str | bytes) -> dict[str, Any]:
    """The JSON object of one frame, or BadFrame."""
    try:
        raw = orjson.loads(text)
    except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadFrame("malformed JSON") from exc
    if not isinstance(raw, dict):
        raise BadFrame("a frame is a JSON object")
    return raw


def from_object(raw: Mapping[str, Any], side: Side) -> Frame:
    """A decoded object as the typed frame of ``side``'s catalogue."""
    frame_type = raw.get("type")
    catalogue: Mapping[str, Any] = CLIENT_FRAMES if side is Side.CLIENT else SERVER_FRAMES
    cls = catalogue.get(frame_type) if isinstance(frame_type, str) else None
    if cls is None:
        raise UnknownFrameType("unknown type", raw)
    frame: Frame = cls.from_wire(raw)
    return frame


def parse(text: str | bytes, side: Side) -> Frame:
    return from_object(decode(text), side)


def parse_client_frame(text: str | bytes, accepted: Collection[str] | None = None) -> ClientFrame:
    """What a server reads from a client: decoded and validated once.

    With ``accepted`` (the types this reader takes), a frame of another known type raises
    :class:`NotAccepted` before its fields are looked at: the server answers a frame of the
    other role ``forbidden`` whatever its fields hold.
    """
    return read_client_frame(text, accepted)[0]


def read_client_frame(
    text: str | bytes, accepted: Collection[str] | None = None
) -> tuple[ClientFrame, str | None, str | None]:
    """As :func:`parse_client_frame`, with the ``cid`` and ``conv`` the frame carried
    (strings only), which an ``error`` about it echoes even where its type has no such
    field (docs/protocol.md: "plus cid and/or conv when the frame that caused it had
    them")."""
    try:  # decode() inlined: this runs for every frame a server reads
        raw = orjson.loads(text)
    except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadFrame("malformed JSON") from exc
    if type(raw) is not dict:
        raise BadFrame("a frame is a JSON object")
    frame_type = raw.get("type")
    cls = CLIENT_FRAMES.get(frame_type) if type(frame_type) is str else None
    if cls is None:
        raise UnknownFrameType("unknown type", raw)
    if accepted is not None and frame_type not in accepted:
        raise NotAccepted(f"{frame_type} is not accepted here", raw)
    frame: ClientFrame = cls.from_wire(raw)
    cid, conv = raw.get("cid"), raw.get("conv")
    return (
        frame,
        cid if type(cid) is str else None,
        conv if type(conv) is str else None,
    )


def parse_server_frame(text: str | bytes) -> ServerFrame:
    """What a client reads from the server."""
    frame = parse(text, Side.SERVER)
    return frame  # type: ignore[return-value]


def dumps(frame: Frame | Mapping[str, Any]) -> bytes:
    wire = frame if isinstance(frame, Mapping) else frame.to_wire()
    return orjson.dumps(wire)


def dumps_text(frame: Frame | Mapping[str, Any]) -> str:
    """As :func:`dumps`, for WebSocket libraries that send ``str`` as a text frame."""
    return dumps(frame).decode()
