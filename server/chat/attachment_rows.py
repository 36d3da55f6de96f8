"""Attachments' rows as messages carry them (read with the messages they belong to)."""

from __future__ import annotations

from typing import Any

from server.storage.guard import TenantScope
from server.storage.models import Attachment


def meta_of(row: Attachment) -> dict[str, Any]:
    """What a message frame says of an attachment (its URL is added per receiver)."""
    return {"id": row.id, "name": row.name, "size": row.size, "type": row.mime}


def claimed_attachments(
    tenant_id: str, conv: str, after_seq: int
) -> dict[str, list[dict[str, Any]]]:
    """Message id -> its attachments' metadata, for the messages of ``conv`` after a seq."""
    rows = (
        TenantScope(tenant_id)
        .select(Attachment)
        .where(Attachment.conversation_id == conv, Attachment.message_seq > after_seq)
        .order_by(Attachment.message_seq, Attachment.id)
        .limit(5000)
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row.message_id, []).append(meta_of(row))
    return found
