"""Value objects of the chat domain, and their wire form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import orjson

from server.kernel.enums import MessageKind
from server.security.sanitizer import render_html
from server.times import iso_ms
from steadywire.server_frames import (
    Attachment,
    Message,
    Sender,
    ack_object,
    message_object,
    sender_object,
)

_new = object.__new__


@dataclass(slots=True, kw_only=True)
class MessageFields:
    """What was sent, by whom, where: a send waiting for its commit (the writer's
    ``PendingSend``) and the message once stored (``StoredMessage``) both have these."""

    tenant_id: str
    conv: str
    kind: str
    sender_type: str
    sender_id: str
    sender_name: str
    cid: str
    body: str


@dataclass(slots=True, kw_only=True)
class StoredMessage(MessageFields):
    """A committed message: the fields it was sent with, plus what the commit gave it."""

    id: str
    seq: int
    created_ms: int
    html: str | None = field(default=None, repr=False)  # set at commit or read (rendered.py)
    # Attachments' metadata ({id, name, size, type}), None for most messages; URLs are
    # signed per receiver (server/chat/attachments.py), never stored or shared.
    attachments: list[dict[str, Any]] | None = None
    _frame: bytes | None = field(default=None, repr=False)
    _ts: str | None = field(default=None, repr=False)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> StoredMessage:
        """A message from a row of the message table's columns in this order: id,
        tenant_id, conversation_id, seq, kind, sender_type, sender_id, sender_name, cid,
        body, created_ms (``chat.queries.MESSAGE_COLUMNS``).

        History and replay read hundreds of rows at once: the slots are filled straight
        from the row, as fast as the positional construction this replaced (a keyword
        call costs several times more). tests/unit/chat/test_records.py checks that it
        equals the keyword construction, so a new field cannot be forgotten here."""
        m = _new(cls)
        (
            m.id,
            m.tenant_id,
            m.conv,
            m.seq,
            m.kind,
            m.sender_type,
            m.sender_id,
            m.sender_name,
            m.cid,
            m.body,
            m.created_ms,
        ) = row
        m.html = m._frame = m._ts = m.attachments = None
        return m

    @property
    def is_note(self) -> bool:
        return self.kind == MessageKind.NOTE.value

    @property
    def ts(self) -> str:
        if self._ts is None:
            self._ts = iso_ms(self.created_ms)
        return self._ts

    def wire_message(self) -> Message:
        """The ``message`` frame; attachments as their metadata (URLs are signed per
        receiver: ``chat.attachments.signed_wire``)."""
        sender = Sender(self.sender_type, self.sender_id, self.sender_name)
        attached = tuple(map(Attachment.from_wire, self.attachments)) if self.attachments else ()
        return Message(
            self.conv, self.id, self.seq, self.ts, self.kind, self.body, sender,
            self.rendered(), self.cid, attached,
        )  # fmt: skip

    def wire(self) -> dict[str, Any]:
        # The same object as wire_message().to_wire(), without making the objects first:
        # every message goes through here (tests/unit/chat/test_records.py compares them).
        return message_object(
            self.conv, self.id, self.seq, self.ts, self.kind, self.body, self.rendered(),
            self.cid, sender_object(self.sender_type, self.sender_id, self.sender_name),
            self.attachments,
        )  # fmt: skip

    def rendered(self) -> str:
        if self.html is None:  # a message from an older node's bus: rendered here, once
            self.html = render_html(self.body)
        return self.html

    def set_frame(self, frame: bytes) -> None:
        """The frame built earlier for this same stored message (server/chat/rendered.py)."""
        self._frame = frame

    def frame(self) -> bytes:
        """The serialized ``message`` frame, built once and shared by every recipient."""
        if self._frame is None:
            self._frame = orjson.dumps(self.wire())
        return self._frame

    def to_bus(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "conv": self.conv,
            "seq": self.seq,
            "kind": self.kind,
            "sender_type": self.sender_type,
            "sender_id": self.sender_id,
            "sender_name": self.sender_name,
            "cid": self.cid,
            "body": self.body,
            "created_ms": self.created_ms,
            "html": self.html,  # other nodes do not render it again
            **({"attachments": self.attachments} if self.attachments else {}),
        }

    @classmethod
    def from_bus(cls, data: dict[str, Any]) -> StoredMessage:
        try:
            return cls(**data)
        except TypeError:
            # A newer node's message, with a field this release does not know: in a gray
            # rollout it must still reach this node's readers, without what is new.
            return cls(**{k: v for k, v in data.items() if k in _BUS_FIELDS})


_BUS_FIELDS = frozenset(f.name for f in fields(StoredMessage) if not f.name.startswith("_"))


@dataclass(frozen=True, slots=True)
class SendResult:
    message: StoredMessage
    duplicate: bool  # the cid was already stored: this is the original ack
    queued: bool = False  # the conversation was still waiting for an agent

    def ack(self) -> dict[str, Any]:
        m = self.message
        return ack_object(m.cid, m.conv, m.id, m.seq, m.ts)
