"""The one error the wire package raises: a frame that does not follow the protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from steadywire.codes import ErrorCode


class BadFrame(ValueError):
    """Text that is not a valid frame (malformed JSON, unknown ``type``, a bad field).

    Carries what a server needs to answer ``error bad_frame``: the ``cid`` and ``conv`` of
    the offending frame when it had them (as strings; anything else is dropped).
    """

    code = ErrorCode.BAD_FRAME

    def __init__(self, message: str, raw: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        raw = raw or {}
        cid, conv = raw.get("cid"), raw.get("conv")
        self.cid = cid if isinstance(cid, str) else None
        self.conv = conv if isinstance(conv, str) else None
        frame_type = raw.get("type")
        self.frame_type = frame_type if isinstance(frame_type, str) else None


class UnknownFrameType(BadFrame):
    """Well-formed JSON object whose ``type`` this side does not accept."""


class InvalidValue(BadFrame):
    """A well-formed frame with a value the protocol answers ``bad_request`` rather than
    ``bad_frame`` (``rate``'s rating and comment, docs/protocol.md): not counted as a bad
    frame."""

    code = ErrorCode.BAD_REQUEST


class NotAccepted(BadFrame):
    """A frame of the catalogue that the reader does not accept here (another role's, or
    ``hello`` after the handshake); ``frame_type`` names it."""
