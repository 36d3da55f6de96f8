"""``steadydesk restore``: put an archive back, whole or one tenant, and prove it.

In order, nothing written until the archive is proven intact:

1. the ``.sha256`` beside the archive (every byte), then decryption (AES-GCM's tag), then
   each member's SHA-256 from the manifest and gzip's CRC;
2. refused: an archive from a newer schema, a target that holds data (the install, or
   for a single tenant that tenant's rows) without ``--force``;
3. the target is migrated to this release, the rows written as archived, the archive
   migrated up (the data steps of the migrations newer than it run again), what is
   derived rebuilt (SQLite's full-text index);
4. every table's row count and checksum, read back from the target, compared with the
   archive's. A single-tenant restore writes and reads only that tenant's rows: the other
   tenants' are never touched.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee as pw

from backups.archive import (
    FORMAT_VERSION,
    TABLES_DIR,
    members,
    read_manifest,
    read_member,
    read_rows,
    read_sidecar,
    verify_members,
)
from backups.backup import backup_dir, redact_url
from backups.catalog import latest_archive
from backups.crypto import decrypt_to, is_encrypted
from backups.errors import ArchiveDamaged, BackupError, RestoreRefused, plainly
from backups.files import file_sha256
from backups.inserter import RowInserter, quoted
from backups.source import open_snapshot
from backups.tables import (
    TableChecksum,
    TableSpec,
    default_value,
    encode_row,
    missing_columns,
    spec_for,
    table_specs,
)
from server.config import Settings
from server.storage import fulltext
from server.storage.database import db, make_database
from server.storage.guard import cross_tenant
from server.storage.migrations import LATEST_VERSION, MIGRATIONS, migrate
from server.storage.models import ALL_MODELS, EncryptionKeyUse
from server.storage.sealed import active_keyring

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoreOptions:
    archive: str  # a path, or "latest"
    into: str | None = None  # a database URL; default: the install's own
    tenant: str | None = None
    force: bool = False
    passphrase: bytes | None = None


@dataclass
class Expected:
    rows: int
    checksum: str


def resolve_archive(settings: Settings, archive: str, tenant: str | None) -> Path:
    if archive == "latest":
        return latest_archive(backup_dir(settings), tenant)
    path = Path(archive)
    if not path.is_file():
        raise BackupError(f"no archive at {path}")
    return path


def check_whole_file(path: Path) -> None:
    expected = read_sidecar(path)
    if expected is None:
        log.warning("no %s.sha256 beside the archive: checking its parts only", path.name)
        return
    if file_sha256(path) != expected:
        raise ArchiveDamaged(
            f"archive {path} is damaged: its SHA-256 does not match {path.name}.sha256"
        )


@contextlib.contextmanager
def opened_archive(
    settings: Settings, path: Path, passphrase: bytes | None
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The plain archive (decrypted into a private scratch directory when needed) and its
    manifest, every member checked against it."""
    check_whole_file(path)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".restore-", dir=settings.data_dir))  # 0700
    try:
        plain = path
        if is_encrypted(path):
            if passphrase is None:
                raise BackupError(f"{path} is encrypted: give --passphrase-file")
            plain = scratch / "archive.tar.gz"
            decrypt_to(path, passphrase, plain)
        manifest = read_manifest(plain)
        if manifest.get("format_version", 0) > FORMAT_VERSION:
            raise RestoreRefused(f"{path} was written by a newer Steadydesk: upgrade first")
        verify_members(plain, manifest)
        yield plain, manifest
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def archived_keys(settings: Settings, archive: str, passphrase: bytes | None) -> dict[str, Any]:
    """The keys a ``--with-keys`` archive holds, for the configuration of a new host."""
    path = resolve_archive(settings, archive, None)
    with opened_archive(settings, path, passphrase) as (plain, manifest):
        data = read_member(plain, "keys.json") if manifest.get("with_keys") else None
    if data is None:
        raise BackupError(f"{path} holds no keys (it was not made with --with-keys)")
    keys: dict[str, Any] = json.loads(data)
    return keys


def _has_rows(database: pw.Database, spec: TableSpec, tenant: str | None) -> bool:
    table = quoted(database, spec.name)
    if tenant is None:
        sql, params = f"SELECT 1 FROM {table} LIMIT 1", []
    else:
        column = quoted(database, spec.tenant_column or "tenant_id")
        sql, params = f"SELECT 1 FROM {table} WHERE {column} = {database.param} LIMIT 1", [tenant]
    return database.execute_sql(sql, params).fetchone() is not None


def _drop_everything(database: pw.Database) -> None:
    """A forced whole restore starts from an empty schema (faster than deleting rows,
    and it leaves nothing of a newer or odd schema behind)."""
    for table in fulltext.index_tables(database):
        database.execute_sql(f"DROP TABLE {table}")
    database.drop_tables(ALL_MODELS, safe=True)


def _delete_tenant(database: pw.Database, specs: list[TableSpec], tenant: str) -> None:
    for spec in specs:
        column = quoted(database, spec.tenant_column or "tenant_id")
        with database.atomic():
            database.execute_sql(
                f"DELETE FROM {quoted(database, spec.name)} WHERE {column} = {database.param}",
                [tenant],
            )


def _insert_rows(
    database: pw.Database, plain: Path, manifest: dict[str, Any], tenant: str | None
) -> dict[str, Expected]:
    """Write the archive's rows (only ``tenant``'s when given); what was written, per
    table, as the verification must find it."""
    tables: dict[str, Any] = manifest["tables"]
    by_part = {t["part"]: name for name, t in tables.items()}
    present = {spec.name: set(spec.columns) for spec in table_specs(database)}
    expected: dict[str, Expected] = {}
    for member, fh in members(plain):
        if not member.startswith(TABLES_DIR):
            continue
        name = by_part[member]
        columns = tables[name]["columns"]
        spec = spec_for(name, columns)
        missing = [c for c in columns if c not in present.get(name, set())]
        if missing:
            raise RestoreRefused(f"table {name} of this release lacks columns {missing}")
        if tenant is not None and not spec.tenant_owned:
            continue
        position = columns.index(spec.tenant_column) if tenant is not None else -1
        added = missing_columns(spec.model, columns, present[name])  # an older archive
        inserter = RowInserter(database, name, [*columns, *(f.column_name for f in added)])
        try:
            for row in read_rows(fh):
                if position < 0 or row[position] == tenant:
                    defaults = [f.db_value(default_value(f)) for f in added]
                    inserter.add([*row, *defaults], checksum_row=row)
        except ValueError as err:
            raise ArchiveDamaged(f"archive {plain} is damaged: {member}: {err}") from None
        inserter.flush()
        expected[name] = Expected(inserter.checksum.rows, inserter.checksum.hexdigest)
    return expected


def _archive_has_tenant(plain: Path, manifest: dict[str, Any], tenant: str) -> bool:
    table = manifest["tables"].get("tenant")
    data = read_member(plain, table["part"]) if table else None
    if data is None:
        return False
    position = table["columns"].index("id")
    return any(row[position] == tenant for row in read_rows(io.BytesIO(data)))


def _register_keys(manifest: dict[str, Any]) -> None:
    for kid in manifest.get("key_registry") or []:
        EncryptionKeyUse.insert(kid=kid).on_conflict_ignore().execute()


def _migrate_up(database: pw.Database, from_version: int) -> None:
    """Run the steps of every migration newer than the archive again, now that its rows
    are in (they are idempotent: they fill what older releases did not write)."""
    for migration in MIGRATIONS:
        if migration.version > from_version:
            log.info("archive at schema %s: migration %s again", from_version, migration.version)
            migration.apply(database)


def verify(
    database: pw.Database,
    manifest: dict[str, Any],
    expected: dict[str, Expected],
    tenant: str | None,
) -> dict[str, dict[str, Any]]:
    """Each table as the target now holds it (that tenant's rows only, for a tenant)."""
    report: dict[str, dict[str, Any]] = {}
    with open_snapshot(database) as source:
        for name, want in expected.items():
            spec = spec_for(name, manifest["tables"][name]["columns"])
            found = TableChecksum()
            for row in source.rows(spec, tenant=tenant):
                found.add(encode_row(row))
            ok = found.rows == want.rows and found.hexdigest == want.checksum
            report[name] = {"rows": found.rows, "ok": ok}
            if not ok:
                report[name]["expected_rows"] = want.rows
    return report


def close_database(database: pw.Database) -> None:
    close_all = getattr(database, "close_all", None)
    if close_all is not None:
        close_all()


def missing_keys(manifest: dict[str, Any]) -> list[str]:
    keyring = active_keyring()
    configured = keyring.key_ids if keyring else frozenset()
    return sorted(set(manifest.get("key_registry") or []) - configured)


def restore(settings: Settings, options: RestoreOptions) -> dict[str, Any]:
    target_url = options.into or settings.effective_database_url
    with plainly(f"restore into {redact_url(target_url)} failed"):
        return _restore(settings, options, target_url)


def _restore(settings: Settings, options: RestoreOptions, target_url: str) -> dict[str, Any]:
    path = resolve_archive(settings, options.archive, options.tenant)
    with opened_archive(settings, path, options.passphrase) as (plain, manifest):
        version = int(manifest.get("schema_version", 0))
        if version > LATEST_VERSION:
            raise RestoreRefused(
                f"{path} is from schema version {version}, newer than this release's "
                f"{LATEST_VERSION}: restore it with a newer Steadydesk"
            )
        archived_tenant = manifest.get("tenant")
        tenant = options.tenant or archived_tenant
        if archived_tenant and tenant != archived_tenant:
            raise RestoreRefused(f"{path} holds tenant {archived_tenant} only, not {tenant}")
        database = make_database(target_url, max_connections=2)
        db.initialize(database)
        try:
            with database.connection_context(), cross_tenant():
                expected = _restore_into(database, plain, manifest, tenant, options.force)
                tables = verify(database, manifest, expected, tenant)
        finally:
            close_database(database)
    ok = all(t["ok"] for t in tables.values())
    report: dict[str, Any] = {
        "archive": str(path),
        "target": redact_url(target_url),
        "tenant": tenant,
        "schema_version": {"archive": version, "target": LATEST_VERSION},
        "tables": tables,
        "ok": ok,
    }
    if missing := missing_keys(manifest):
        report["missing_keys"] = missing
    return report


def _restore_into(
    database: pw.Database,
    plain: Path,
    manifest: dict[str, Any],
    tenant: str | None,
    force: bool,
) -> dict[str, Expected]:
    if tenant is not None and not _archive_has_tenant(plain, manifest, tenant):
        raise RestoreRefused(f"the archive holds no tenant {tenant}")
    if tenant is None and force:
        _drop_everything(database)
    migrate(database)
    specs = table_specs(database, tenant_only=tenant is not None)
    busy = [spec.name for spec in specs if _has_rows(database, spec, tenant)]
    if busy:
        if not force:
            what = f"tenant {tenant} already has rows" if tenant else "the target holds data"
            raise RestoreRefused(f"{what} (in {', '.join(busy)}): add --force to replace it")
        if tenant is not None:
            _delete_tenant(database, specs, tenant)
    expected = _insert_rows(database, plain, manifest, tenant)
    _register_keys(manifest)
    _migrate_up(database, int(manifest.get("schema_version", 0)))
    fulltext.rebuild(database)
    return expected
