"""The archive: a gzip-compressed tar with a manifest, optionally encrypted (crypto.py).

Members, in this order::

    manifest.json          format, versions, when, tenant, and per part its SHA-256
    config.json            the install's settings, secrets redacted
    keys.json              only with --with-keys: the token and encryption keys
    tables/<table>.jsonl   one JSON list per row (backups/tables.py)

The manifest also gives each table's columns, row count and checksum, which a restore
checks the restored table against. Beside the archive, ``<archive>.sha256`` (the
``sha256sum`` format) covers every byte of the file, the gzip header included.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson

from backups.crypto import EncryptingWriter
from backups.errors import ArchiveDamaged
from backups.files import CHUNK_BYTES, HashingWriter, atomic_private_file, create_private
from backups.tables import Row, TableChecksum, encode_row

FORMAT = "steadydesk-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TABLES_DIR = "tables/"
SIDECAR_SUFFIX = ".sha256"
READ_ERRORS = (OSError, EOFError, zlib.error, tarfile.TarError, gzip.BadGzipFile, ValueError)


@dataclass
class TablePart:
    """One table's rows being written to the work directory."""

    name: str
    columns: list[str]
    path: Path
    checksum: TableChecksum = field(default_factory=TableChecksum)
    sha256: Any = field(default_factory=hashlib.sha256)
    size: int = 0
    _fh: BinaryIO | None = None

    def open(self) -> TablePart:
        self._fh = create_private(self.path)
        return self

    def write(self, row: Row) -> None:
        assert self._fh is not None
        encoded = encode_row(row)
        self.checksum.add(encoded)
        line = encoded + b"\n"
        self._fh.write(line)
        self.sha256.update(line)
        self.size += len(line)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    @property
    def member(self) -> str:
        return f"{TABLES_DIR}{self.name}.jsonl"

    def describe(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rows": self.checksum.rows,
            "checksum": self.checksum.hexdigest,
            "part": self.member,
        }


def _tarinfo(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o600
    return info


@dataclass(frozen=True)
class Written:
    size: int
    sha256: str


def write_archive(
    final: Path,
    manifest: dict[str, Any],
    blobs: dict[str, bytes],
    parts: list[TablePart],
    *,
    passphrase: bytes | None = None,
    public: dict[str, Any] | None = None,
) -> Written:
    """Assemble the archive at ``final`` (atomically) and its ``.sha256`` beside it.

    ``blobs`` are small members given in memory (config, keys); ``parts`` the tables,
    already written to the work directory. Every member's SHA-256 goes in the manifest."""
    files: dict[str, dict[str, Any]] = {}
    for name, data in blobs.items():
        files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    for part in parts:
        files[part.member] = {"sha256": part.sha256.hexdigest(), "bytes": part.size}
    manifest = {**manifest, "files": files}
    manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
    mtime = int(manifest.get("created_epoch", 0))
    with atomic_private_file(final) as raw:
        hashed = HashingWriter(raw)
        sink: Any = hashed
        encrypting = None
        if passphrase is not None:
            encrypting = EncryptingWriter(hashed, passphrase, public or {})
            sink = encrypting
        with (
            gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6, mtime=mtime) as gz,
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            tar.addfile(_tarinfo(MANIFEST, len(manifest_bytes), mtime), io.BytesIO(manifest_bytes))
            for name, data in blobs.items():
                tar.addfile(_tarinfo(name, len(data), mtime), io.BytesIO(data))
            for part in parts:
                with open(part.path, "rb") as fh:
                    tar.addfile(_tarinfo(part.member, part.size, mtime), fh)
        if encrypting is not None:
            encrypting.finish()
    written = Written(hashed.size, hashed.sha256.hexdigest())
    sidecar = final.with_name(final.name + SIDECAR_SUFFIX)
    with atomic_private_file(sidecar) as fh:
        fh.write(f"{written.sha256}  {final.name}\n".encode())
    return written


def read_sidecar(archive: Path) -> str | None:
    sidecar = archive.with_name(archive.name + SIDECAR_SUFFIX)
    try:
        text = sidecar.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    return text[0] if text else None


@contextlib.contextmanager
def _open_tar(path: Path, *, to_the_end: bool = False) -> Iterator[tarfile.TarFile]:
    """The tar inside; ``to_the_end``: then read what follows its last member too, so
    gzip checks its trailer (CRC and length), which tar's reader stops short of."""
    with gzip.GzipFile(filename=path, mode="rb") as gz:
        with tarfile.open(fileobj=gz, mode="r|") as tar:
            yield tar
        if to_the_end:
            while gz.read(CHUNK_BYTES):
                pass


def _damaged(path: Path, err: BaseException) -> ArchiveDamaged:
    detail = str(err) or type(err).__name__
    return ArchiveDamaged(f"archive {path} is damaged: {detail}")


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a plain (decrypted) archive: its first member."""
    try:
        with _open_tar(path) as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST:
                raise ArchiveDamaged(f"{path} is not a Steadydesk archive (no manifest first)")
            fh = tar.extractfile(first)
            assert fh is not None
            manifest = json.loads(fh.read())
    except ArchiveDamaged:
        raise
    except READ_ERRORS as err:
        raise _damaged(path, err) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveDamaged(f"{path} is not a Steadydesk archive")
    return manifest


def members(path: Path) -> Iterator[tuple[str, IO[bytes]]]:
    """Every member after the manifest, as a stream (read each before the next)."""
    try:
        with _open_tar(path, to_the_end=True) as tar:
            for info in tar:
                if info.name == MANIFEST:
                    continue
                fh = tar.extractfile(info)
                if fh is None:
                    raise ArchiveDamaged(f"archive {path} is damaged: {info.name} is not a file")
                yield info.name, fh
    except ArchiveDamaged:
        raise
    except READ_ERRORS as err:
        raise _damaged(path, err) from None


def verify_members(path: Path, manifest: dict[str, Any]) -> None:
    """Every member present, none extra, each with the SHA-256 the manifest gives it; and
    the whole gzip stream read to its end (its CRC checked)."""
    expected: dict[str, Any] = dict(manifest.get("files") or {})
    seen: set[str] = set()
    for name, fh in members(path):
        want = expected.get(name)
        if want is None:
            raise ArchiveDamaged(f"archive {path} is damaged: unexpected member {name}")
        digest = hashlib.sha256()
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
        if digest.hexdigest() != want.get("sha256"):
            raise ArchiveDamaged(
                f"archive {path} is damaged: {name} does not match its SHA-256 in the manifest"
            )
        seen.add(name)
    missing = sorted(set(expected) - seen)
    if missing:
        raise ArchiveDamaged(f"archive {path} is damaged: {', '.join(missing)} missing")


def read_rows(fh: IO[bytes]) -> Iterator[Row]:
    for line in fh:
        row = orjson.loads(line)
        if not isinstance(row, list):
            raise ValueError("a row is not a list")
        yield row


def read_member(path: Path, name: str) -> bytes | None:
    for member, fh in members(path):
        if member == name:
            return fh.read()
    return None
