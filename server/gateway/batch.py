"""The ``batch`` frame of a ``sync``, sized in bytes (issue #11).

Its messages are the same bytes as their live ``message`` frames (built once per message,
on the store's thread, and cached), joined rather than serialised again. History pages
are cut at ``SYNC_MAX_BYTES`` already; a batch checks it again (it always holds at least
one message) and then says ``has_more``: a client pages on from its last seq, as it does
past ``limit``.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from server.chat.records import StoredMessage
from server.chat.service import SYNC_MAX_BYTES
from server.kernel.actors import Actor

BATCH_MAX_BYTES = SYNC_MAX_BYTES


def batch_frame(
    conv: str,
    messages: list[StoredMessage],
    has_more: bool,
    frame_for: Callable[[StoredMessage, Actor], bytes] | None = None,
    receiver: Actor | None = None,
) -> bytes:
    """``frame_for``: the frame for ``receiver`` (attachments' URLs are signed for it)."""
    frames: list[bytes] = []
    size = 0
    for message in messages:
        if frame_for is not None and receiver is not None and message.attachments:
            frame = frame_for(message, receiver)
        else:
            frame = message.frame()
        if frames and size + len(frame) > BATCH_MAX_BYTES:
            has_more = True
            break
        frames.append(frame)
        size += len(frame) + 1
    return b"".join(
        (
            b'{"type":"batch","conv":',
            orjson.dumps(conv),
            b',"messages":[',
            b",".join(frames),
            b'],"has_more":',
            b"true" if has_more else b"false",
            b"}",
        )
    )
