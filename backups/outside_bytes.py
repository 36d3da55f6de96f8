"""Attachments whose bytes live outside the database — in a directory
(``STEADY_ATTACHMENT_DIR``) or an S3-compatible bucket — go into a backup or an export as if
they were in the database: their ``attachment`` row says ``db`` and their bytes follow as
``attachment_chunk`` rows. An archive is then whole by itself (a lost disk or bucket, or
another provider, does not matter to a restore), and a restore or import needs nothing
new: the install it lands in serves them from its database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from backups.errors import BackupError
from backups.tables import Row, archived_binary
from server.errors import Unavailable
from server.storage.blobs import CHUNK_BYTES, BlobStore
from server.storage.models import AttachmentChunk

log = logging.getLogger(__name__)


class OutsideBytes:
    """With ``spill`` (backups), the bytes are fetched before the tables are written, into
    files there (not memory), so a row says ``db`` only once its bytes are in hand. Without
    (exports, which stream), they are fetched as the chunk rows are written; an object
    missing then leaves its row without bytes, as it was on the source."""

    def __init__(self, stores: Sequence[BlobStore], spill: Path | None = None):
        self.stores = {store.kind: store for store in stores}  # by the row's ``storage``
        self.spill = spill
        if spill is not None:
            spill.mkdir(mode=0o700)
        self.moved: dict[tuple[str, str], Path | None] = {}
        self.kinds: dict[tuple[str, str], str] = {}

    def collect(self, source: Any, spec: Any, tenant: str | None, columns: Sequence[str]) -> None:
        """Note (backups: fetch) every attachment of ``spec`` (the attachment table) whose
        bytes are outside the database; before the tables are written, since chunk rows may
        come first."""
        at_tenant, at_id, at_storage = (columns.index(c) for c in ("tenant_id", "id", "storage"))
        for row in source.rows(spec, columns, tenant):
            if row[at_storage] not in self.stores:
                continue
            key = (row[at_tenant], row[at_id])
            self.kinds[key] = row[at_storage]
            if self.spill is None:
                self.moved[key] = None
                continue
            data = self._get(key)
            if data is None:  # its row keeps its store: a restore says what is missing
                continue
            path = self.spill / str(len(self.moved))
            path.write_bytes(data)
            self.moved[key] = path

    def _get(self, key: tuple[str, str]) -> bytes | None:
        kind = self.kinds[key]
        try:
            data = self.stores[kind].get(*key)
        except Unavailable as exc:
            raise BackupError(f"attachments' store ({kind}): {exc.message}") from None
        if data is None:
            log.warning("attachment %s has no bytes in its store (%s)", key[1], kind)
        return data

    def attachment_row(self, columns: Sequence[str], row: Row) -> Row:
        key = (row[columns.index("tenant_id")], row[columns.index("id")])
        if key not in self.moved:
            return row
        row = list(row)
        row[columns.index("storage")] = "db"
        return row

    def chunk_rows(self, columns: Sequence[str], *, seal: bool = True) -> Iterator[Row]:
        """The moved bytes as ``attachment_chunk`` rows, split as the database store does
        and, with ``seal``, sealed as it would seal them (with the keys configured: then
        a stolen archive holds no file in clear, wherever the install keeps them; an
        export's ``--decrypt`` passes ``seal=False``)."""
        field = AttachmentChunk.data
        for key, path in self.moved.items():
            data = path.read_bytes() if path is not None else self._get(key)
            if data is None:
                continue
            pieces = [data[at : at + CHUNK_BYTES] for at in range(0, len(data), CHUNK_BYTES)]
            for n, piece in enumerate(pieces or [b""]):
                values = {
                    "tenant_id": key[0],
                    "attachment_id": key[1],
                    "n": n,
                    "data": archived_binary(field.seal(piece) if seal else piece),
                }
                yield [values[c] for c in columns]


def outside_bytes(settings: Any, spill: Path | None = None) -> OutsideBytes | None:
    """For the stores outside the database the settings name (None: the database only)."""
    from server.storage.blobs import DirectoryBlobs
    from server.storage.s3_location import s3_location

    stores: list[BlobStore] = []
    if settings.attachment_dir:
        stores.append(DirectoryBlobs(Path(settings.attachment_dir)))
    where = s3_location(settings)
    if where is not None:
        from server.storage.s3_blobs import S3Blobs  # boto3 loads only where it is used

        stores.append(S3Blobs(where))
    return OutsideBytes(stores, spill) if stores else None
