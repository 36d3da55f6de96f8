"""Uploads no committed message claimed are collected after a day, bytes and all; claimed
ones and recent ones stay (a real database on each backend)."""

from __future__ import annotations

import time
from pathlib import Path

import peewee as pw

from server.chat.attachments import UNCLAIMED_TTL_MS, AttachmentService
from server.security.attachment_links import AttachmentLinks
from server.storage.blobs import DatabaseBlobs, DirectoryBlobs
from server.storage.guard import TenantScope
from server.storage.models import Attachment


def _stored(blobs: DatabaseBlobs | DirectoryBlobs, attachment_id: str, created_ms: int,
            message_id: str | None) -> None:
    blobs.put("gc", attachment_id, b"\x00\x01" * 10)
    TenantScope("gc").create(
        Attachment, id=attachment_id, conversation_id=None, uploader_type="visitor",
        uploader_id="v1", message_id=message_id, name="x.bin", mime="application/pdf",
        size=20, sha256="0" * 64, storage=blobs.kind, created_ms=created_ms)


def test_unclaimed_uploads_older_than_a_day_are_collected(database: pw.Database,
                                                          tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    db_blobs, dir_blobs = DatabaseBlobs(), DirectoryBlobs(tmp_path)
    service = AttachmentService(None, None, {"db": db_blobs, "dir": dir_blobs},  # type: ignore[arg-type]
                                AttachmentLinks("k", 60))
    old = now - UNCLAIMED_TTL_MS - 1000
    _stored(db_blobs, "gc-old-db", old, None)
    _stored(dir_blobs, "gc-old-dir", old, None)
    _stored(db_blobs, "gc-old-claimed", old, "m1")
    _stored(db_blobs, "gc-recent", now - 1000, None)

    assert service.collect_unclaimed(now) == 2
    left = {a.id for a in TenantScope("gc").select(Attachment)}
    assert left == {"gc-old-claimed", "gc-recent"}
    assert db_blobs.get("gc", "gc-old-db") is None and dir_blobs.get("gc", "gc-old-dir") is None
    assert db_blobs.get("gc", "gc-old-claimed") == b"\x00\x01" * 10
    assert service.collect_unclaimed(now) == 0
