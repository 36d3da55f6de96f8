"""Where attachments' bytes live: the database (default; every node reads it), a
directory (single-node installs, ``STEADY_ATTACHMENT_DIR``) or an S3-compatible bucket
(``STEADY_ATTACHMENT_S3_BUCKET``, server/storage/s3_blobs.py). Blocking: call in a thread.

In the database the bytes are split into ``CHUNK_BYTES`` rows, each well under MariaDB's
default ``max_allowed_packet`` (16 MB), so a 10 MB file never needs one huge packet.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from server.storage.guard import TenantScope
from server.storage.models import AttachmentChunk

if TYPE_CHECKING:
    from server.storage.s3_location import S3Location

CHUNK_BYTES = 1024 * 1024


class BlobStore(Protocol):
    kind: str  # what the row's ``storage`` says: "db", "dir" or "s3"

    def put(self, tenant_id: str, blob_id: str, data: bytes) -> None: ...

    def get(self, tenant_id: str, blob_id: str) -> bytes | None: ...

    def delete(self, tenant_id: str, blob_id: str) -> None: ...


class DatabaseBlobs:
    kind = "db"

    def put(self, tenant_id: str, blob_id: str, data: bytes) -> None:
        scope = TenantScope(tenant_id)
        pieces = [data[at : at + CHUNK_BYTES] for at in range(0, len(data), CHUNK_BYTES)]
        for n, piece in enumerate(pieces or [b""]):
            scope.create(AttachmentChunk, attachment_id=blob_id, n=n, data=piece)

    def get(self, tenant_id: str, blob_id: str) -> bytes | None:
        rows = list(
            TenantScope(tenant_id)
            .select(AttachmentChunk, AttachmentChunk.data)
            .where(AttachmentChunk.attachment_id == blob_id)
            .order_by(AttachmentChunk.n)
            .tuples()
        )
        if not rows:
            return None
        return b"".join(bytes(row[0]) for row in rows)

    def delete(self, tenant_id: str, blob_id: str) -> None:
        TenantScope(tenant_id).delete(AttachmentChunk).where(
            AttachmentChunk.attachment_id == blob_id
        ).execute()


class DirectoryBlobs:
    """One file per attachment under ``<root>/<tenant>/``; written then renamed, and
    fsynced, so a file is whole once an upload is answered."""

    kind = "dir"

    def __init__(self, root: Path):
        self.root = root

    def _path(self, tenant_id: str, blob_id: str) -> Path:
        # Both are our own ids (tenant slug, ULID): no separators can reach the path.
        if "/" in tenant_id or "/" in blob_id or blob_id.startswith("."):
            raise ValueError("bad blob id")
        return self.root / tenant_id / blob_id

    def put(self, tenant_id: str, blob_id: str, data: bytes) -> None:
        path = self._path(tenant_id, blob_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        with open(partial, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def get(self, tenant_id: str, blob_id: str) -> bytes | None:
        try:
            return self._path(tenant_id, blob_id).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, tenant_id: str, blob_id: str) -> None:
        self._path(tenant_id, blob_id).unlink(missing_ok=True)


def blob_stores(directory: str, s3: S3Location | None = None) -> dict[str, BlobStore]:
    """Every store a row may name (rows keep the kind they were written with); the first
    is where new uploads go: the bucket if one is configured, else the directory if one
    is, else the database."""
    stores: dict[str, BlobStore] = {}
    if s3 is not None:
        from server.storage.s3_blobs import S3Blobs  # boto3 loads only where it is used

        stores["s3"] = S3Blobs(s3)
    if directory:
        stores["dir"] = DirectoryBlobs(Path(directory))
    stores["db"] = DatabaseBlobs()
    return stores
