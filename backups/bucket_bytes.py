"""Attachments whose bytes are in an S3-compatible bucket go into a backup as if they were
in the database: their ``attachment`` row says ``db`` and their bytes follow as
``attachment_chunk`` rows. An archive is then whole by itself (a lost bucket, or another
provider, does not matter to a restore), and a restore needs nothing new: the restored
install serves them from its database.

Only the bucket: a directory store's files live beside the data directory and are backed
up with it (docs/backups.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from backups.errors import BackupError
from backups.tables import Row, TableSpec, archived_binary
from server.errors import Unavailable
from server.storage.blobs import CHUNK_BYTES, BlobStore

log = logging.getLogger(__name__)

BUCKET_KIND = "s3"


class BucketBytes:
    """Bytes fetched before the tables are written (an ``attachment`` row may only say
    ``db`` once its bytes are in hand), kept in files of the backup's work directory, not
    in memory."""

    def __init__(self, bucket: BlobStore, work: Path):
        self.bucket = bucket
        self.work = work / "bucket"
        self.work.mkdir(mode=0o700)
        self.moved: dict[tuple[str, str], Path] = {}

    def collect(self, source: Any, spec: TableSpec, tenant: str | None) -> None:
        """Read the bucket's bytes of every attachment row ``spec`` (the attachment table)
        holds, before the tables are written (chunk rows may come first)."""
        cols = spec.columns
        at_tenant, at_id, at_storage = (cols.index(c) for c in ("tenant_id", "id", "storage"))
        for row in source.rows(spec, tenant=tenant):
            if row[at_storage] != BUCKET_KIND:
                continue
            key = (row[at_tenant], row[at_id])
            try:
                data = self.bucket.get(*key)
            except Unavailable as exc:
                raise BackupError(f"attachments' bucket: {exc.message}") from None
            if data is None:  # its row stays "s3": a restore says what is missing
                log.warning("backup: attachment %s has no object in the bucket", key[1])
                continue
            path = self.work / str(len(self.moved))
            path.write_bytes(data)
            self.moved[key] = path

    def attachment_row(self, spec: TableSpec, row: Row) -> Row:
        cols = spec.columns
        key = (row[cols.index("tenant_id")], row[cols.index("id")])
        if key not in self.moved:
            return row
        row = list(row)
        row[cols.index("storage")] = "db"
        return row

    def chunk_rows(self, spec: TableSpec) -> Iterator[Row]:
        """The moved bytes as ``attachment_chunk`` rows, split as the database store does."""
        for (tenant_id, attachment_id), path in self.moved.items():
            data = path.read_bytes()
            pieces = [data[at : at + CHUNK_BYTES] for at in range(0, len(data), CHUNK_BYTES)]
            for n, piece in enumerate(pieces or [b""]):
                values = {"tenant_id": tenant_id, "attachment_id": attachment_id, "n": n,
                          "data": archived_binary(piece)}
                yield [values[c] for c in spec.columns]
