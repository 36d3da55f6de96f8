"""How a publication crosses Redis: an envelope of the publishing node and the payload.

The bus moves bytes and knows no domain types. A payload that holds domain objects
(chat's ``StoredMessage``) comes with its own codec, given to the bus by the app
(``server.chat.bus_codec``), so the arrow points from chat down to the bus.
"""

from __future__ import annotations

from typing import Protocol

import orjson

from server.bus import Payload


class Codec(Protocol):
    def encode(self, node: str, payload: Payload) -> bytes: ...

    def decode(self, raw: bytes) -> tuple[str, Payload]:
        """Raises ``ValueError``, ``KeyError`` or ``TypeError`` for bytes it cannot read."""


class JsonCodec:
    """Payloads of plain JSON values (events, typing, read receipts)."""

    def encode(self, node: str, payload: Payload) -> bytes:
        return orjson.dumps({"n": node, "p": payload})

    def decode(self, raw: bytes) -> tuple[str, Payload]:
        envelope = orjson.loads(raw)
        return envelope["n"], envelope["p"]
