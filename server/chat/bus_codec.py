"""The bus codec for chat's payloads: a committed message travels as its bus dict."""

from __future__ import annotations

from server.bus import Payload
from server.bus.codec import JsonCodec
from server.chat.records import StoredMessage


class ChatCodec(JsonCodec):
    def encode(self, node: str, payload: Payload) -> bytes:
        message = payload.get("message")
        if isinstance(message, StoredMessage):
            payload = {**payload, "message": message.to_bus()}
        return super().encode(node, payload)

    def decode(self, raw: bytes) -> tuple[str, Payload]:
        node, payload = super().decode(raw)
        if payload.get("type") == "message":
            payload["message"] = StoredMessage.from_bus(payload["message"])
        return node, payload
