"""``steadydesk backup list``: the archives in a directory, described without restoring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backups.archive import read_manifest, read_sidecar
from backups.crypto import is_encrypted, read_header
from backups.errors import ArchiveDamaged, BackupError
from backups.files import file_sha256
from backups.rotation import ArchiveFile, list_archives


def describe(archive: ArchiveFile) -> dict[str, Any]:
    """The object ``backup --json`` printed for this archive (without ``removed``)."""
    path = archive.path
    try:
        if is_encrypted(path):
            public = read_header(path)[0].get("public") or {}
        else:
            public = read_manifest(path)
        rows = public.get("rows")
        if rows is None:
            rows = {name: t.get("rows") for name, t in (public.get("tables") or {}).items()}
        created_at, tenant = public.get("created_at"), public.get("tenant")
    except ArchiveDamaged:
        rows, created_at, tenant = None, None, archive.tenant
    return {
        "archive": str(path),
        "size": path.stat().st_size,
        "sha256": read_sidecar(path) or file_sha256(path),
        "created_at": created_at,
        "tenant": tenant,
        "rows": rows,
    }


def list_backups(directory: Path) -> list[dict[str, Any]]:
    return [describe(a) for a in list_archives(directory)]


def latest_archive(directory: Path, tenant: str | None = None) -> Path:
    """The newest archive that holds the install (or, with ``tenant``, that tenant)."""
    for archive in list_archives(directory):
        if archive.tenant is None or (tenant is not None and archive.tenant == tenant):
            return archive.path
    what = f"tenant {tenant}" if tenant else "the whole install"
    raise BackupError(f"no archive of {what} in {directory}")
