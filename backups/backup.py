"""``steadydesk backup``: a consistent snapshot of the install (or of one tenant) while it
keeps serving, in one archive with a manifest; then rotation.

Every message acknowledged before the backup starts is in it: SQLite is copied with the
online backup API, MariaDB read in one consistent-snapshot transaction (backups/source.py),
and an ack is only ever sent after its message committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import peewee as pw

from backups import runs
from backups.archive import FORMAT, FORMAT_VERSION, TablePart, Written, write_archive
from backups.errors import BackupError, plainly
from backups.files import private_dir
from backups.outside_bytes import OutsideBytes, outside_bytes
from backups.rotation import Retention, archive_name, list_archives, to_remove
from backups.source import open_snapshot
from backups.tables import TableSpec, table_specs
from server import __version__
from server.config import Settings, ensure_secret_key
from server.storage.database import is_mysql
from server.storage.guard import cross_tenant
from server.storage.migrations import current_version
from server.storage.models import EncryptionKeyUse, Tenant

log = logging.getLogger(__name__)

CONFIG_MEMBER = "config.json"
KEYS_MEMBER = "keys.json"
_SECRET_SETTINGS = ("secret_key", "encryption_keys", "metrics_token", "attachment_s3_secret")
REDACTED = "<redacted>"


@dataclass(frozen=True)
class BackupOptions:
    to: Path | None = None
    tenant: str | None = None
    passphrase: bytes | None = None  # --with-keys: the keys go in, the archive is encrypted
    keep: Retention | None = None  # None: no rotation
    stop: threading.Event | None = None  # set: give up (the node is shutting down)


STOP_CHECK_ROWS = 10_000


def backup_dir(settings: Settings, to: Path | str | None = None) -> Path:
    return Path(to) if to else (settings.data_dir / "backups").resolve()


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:{REDACTED}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def config_snapshot(settings: Settings) -> dict[str, Any]:
    """The settings, for the record (a restore never applies them); secrets redacted."""
    values = settings.model_dump(mode="json")
    for name in _SECRET_SETTINGS:
        if values.get(name):
            values[name] = REDACTED
    values["database_url"] = redact_url(settings.effective_database_url)
    values["redis_url"] = redact_url(settings.redis_url)
    return values


def keys_snapshot(settings: Settings) -> dict[str, str]:
    return {
        "secret_key": ensure_secret_key(settings),
        "encryption_keys": settings.encryption_keys,
        "encryption_key_id": settings.encryption_key_id,
    }


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z"


def _key_registry(database: pw.Database) -> list[str]:
    with cross_tenant():
        return sorted(row.kid for row in EncryptionKeyUse.select(EncryptionKeyUse.kid))


def _outside_bytes(
    settings: Settings, source: Any, specs: list[TableSpec], tenant: str | None, work: Path
) -> OutsideBytes | None:
    """Attachments kept outside the database (a directory, a bucket), fetched for the
    archive (None: the database holds them all)."""
    attachments = [spec for spec in specs if spec.name == "attachment"]
    moved = outside_bytes(settings, work / "outside") if attachments else None
    if moved is not None:
        moved.collect(source, attachments[0], tenant, attachments[0].columns)
    return moved


def _write_tables(
    source: Any,
    specs: list[TableSpec],
    tenant: str | None,
    work: Path,
    stop: threading.Event | None,
    moved: OutsideBytes | None = None,
) -> list[TablePart]:
    parts = []
    for spec in specs:
        part = TablePart(spec.name, list(spec.columns), work / f"{spec.name}.jsonl").open()
        try:
            for count, row in enumerate(source.rows(spec, tenant=tenant), start=1):
                if moved is not None and spec.name == "attachment":
                    row = moved.attachment_row(spec.columns, row)
                part.write(row)
                if stop is not None and count % STOP_CHECK_ROWS == 0 and stop.is_set():
                    raise BackupError("stopped: the node is shutting down")
            if moved is not None and spec.name == "attachment_chunk":
                for row in moved.chunk_rows(spec.columns):
                    part.write(row)
        finally:
            part.close()
        parts.append(part)
    return parts


def create_backup(
    settings: Settings, database: pw.Database, options: BackupOptions, *, node: str = ""
) -> dict[str, Any]:
    """Write one archive; the JSON object ``steadydesk backup --json`` prints."""
    where = backup_dir(settings, options.to)
    with plainly(f"backup into {where} failed"):
        return _create_backup(settings, database, options, node)


def _create_backup(
    settings: Settings, database: pw.Database, options: BackupOptions, node: str
) -> dict[str, Any]:
    tenant = options.tenant
    if tenant is not None and Tenant.get_or_none(Tenant.id == tenant) is None:
        raise BackupError(f"no tenant {tenant!r} in this install")
    directory = private_dir(backup_dir(settings, options.to))
    sweep_leftovers(directory)
    created = _utcnow()
    encrypted = options.passphrase is not None
    final = directory / archive_name(created, tenant, encrypted)
    work = Path(tempfile.mkdtemp(prefix=".work-", dir=directory))  # 0700
    try:
        specs = table_specs(database, tenant_only=tenant is not None)
        copy = None if is_mysql(database) else work / "snapshot.db"
        with open_snapshot(database, copy_into=copy) as source:
            moved = _outside_bytes(settings, source, specs, tenant, work)
            parts = _write_tables(source, specs, tenant, work, options.stop, moved)
        if options.stop is not None and options.stop.is_set():
            raise BackupError("stopped: the node is shutting down")
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "steadydesk_version": __version__,
            "schema_version": current_version(database),
            "created_at": iso(created),
            "created_epoch": int(created.replace(tzinfo=dt.UTC).timestamp()),
            "tenant": tenant,
            "backend": "mysql" if is_mysql(database) else "sqlite",
            "node": node,
            "with_keys": encrypted,
            "key_registry": _key_registry(database),
            "tables": {part.name: part.describe() for part in parts},
        }
        blobs = {CONFIG_MEMBER: json.dumps(config_snapshot(settings), indent=1).encode()}
        if encrypted:
            blobs[KEYS_MEMBER] = json.dumps(keys_snapshot(settings)).encode()
        rows = {part.name: part.checksum.rows for part in parts}
        public = {"created_at": manifest["created_at"], "tenant": tenant, "rows": rows}
        written: Written = write_archive(
            final, manifest, blobs, parts, passphrase=options.passphrase, public=public
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    removed = rotate(directory, tenant, options.keep) if options.keep else []
    return {
        "archive": str(final),
        "size": written.size,
        "sha256": written.sha256,
        "created_at": manifest["created_at"],
        "tenant": tenant,
        "rows": rows,
        "removed": removed,
    }


LEFTOVER_AGE_SECS = 24 * 3600  # no backup runs that long: what is older was a crash's


def sweep_leftovers(directory: Path) -> None:
    """Remove the work directories and partial archives of backups that were killed."""
    cutoff = time.time() - LEFTOVER_AGE_SECS
    for path in directory.iterdir():
        if not path.name.startswith((".work-", ".steadydesk-")):
            continue
        with contextlib.suppress(OSError):
            if path.lstat().st_mtime >= cutoff:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.name.endswith(".partial"):
                path.unlink()


def rotate(directory: Path, tenant: str | None, keep: Retention) -> list[str]:
    same_kind = [a for a in list_archives(directory) if a.tenant == tenant]
    removed = []
    for archive in to_remove(same_kind, keep):
        for path in (archive.path, archive.path.with_name(archive.path.name + ".sha256")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        removed.append(str(archive.path))
    return removed


def run_backup(
    settings: Settings,
    database: pw.Database,
    options: BackupOptions,
    *,
    node: str,
    scheduled_for_ms: int | None = None,
) -> dict[str, Any] | None:
    """Record the attempt, back up, record the outcome (a failure too, then re-raise).
    None when ``scheduled_for_ms`` was already claimed by another node."""
    with plainly("backup failed: cannot record it"):
        run_id = runs.start_run(node, options.tenant, scheduled_for_ms)
    if run_id is None:
        return None
    try:
        result = create_backup(settings, database, options, node=node)
    except BaseException as err:
        message = getattr(err, "message", None) or str(err) or type(err).__name__
        with contextlib.suppress(Exception):
            runs.finish_run(run_id, ok=False, error=message)
        raise
    with plainly(f"backup written to {result['archive']}, but not recorded"):
        runs.finish_run(run_id, ok=True, size=result["size"], archive=result["archive"])
    return result
