"""``steadydesk import``: a tenant's export (JSON or CSV) into this install, or ``--into``
another database.

The file is read twice: first to prove it complete (every row its trailer counts), then
to write. Ids are kept (an imported conversation keeps its id, its visitor, its messages'
seqs), except the auto-numbered ids of log-like tables (audit, logins, page views,
labels), which the target numbers anew after its own rows. Sealed columns are sealed with
this install's keys when the export was decrypted, written as exported otherwise (then
this install needs the keys named in the header). Credentials the export left out are
replaced by unusable ones: agents reset their passwords, sites get a new secret, API keys
arrive revoked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import peewee as pw

from backups.backup import redact_url
from backups.credentials import (
    CREDENTIAL_COLUMNS,
    REVOKED_WITHOUT_CREDENTIALS,
    STAND_INS,
    revoke_now,
)
from backups.errors import BackupError, RestoreRefused, plainly
from backups.formats import ExportReader, open_export
from backups.inserter import RowInserter, quoted
from backups.restore import close_database
from backups.tables import (
    Row,
    TableSpec,
    archived_binary,
    default_value,
    missing_columns,
    restored_value,
    spec_for,
    table_specs,
)
from server.config import Settings
from server.security.encryption import BYTES_PREFIX, PREFIX
from server.storage import fulltext
from server.storage.database import db, make_database
from server.storage.guard import TenantScope, cross_tenant
from server.storage.migrations import LATEST_VERSION, MIGRATIONS, migrate
from server.storage.models import AuditLog, EncryptionKeyUse
from server.storage.sealed import (
    RAW_BYTES_PREFIX,
    RAW_PREFIX,
    SealedBlobField,
    active_keyring,
    is_sealed_field,
)


@dataclass(frozen=True)
class ImportOptions:
    path: Path
    into: str | None = None
    force: bool = False


@dataclass
class TableImport:
    spec: TableSpec
    source_columns: list[str]
    target_columns: list[str]
    keep: list[int]  # positions of the source values written
    sealed: list[tuple[int, pw.Field]]  # positions in the written row
    fillers: list[Callable[[], Any]]
    decrypted: bool

    @property
    def credentials_left_out(self) -> bool:
        left_out = CREDENTIAL_COLUMNS.get(self.spec.name, ())
        return any(column not in self.source_columns for column in left_out)

    def transform(self, row: Row) -> Row:
        out = [row[i] for i in self.keep]
        out.extend(make() for make in self.fillers)
        for index, field in self.sealed:
            value = out[index]
            if value is None:
                continue
            exported = index < len(self.keep)
            if isinstance(field, SealedBlobField):  # bytes, archived as base64 both ways
                data = restored_value(value)
                if not (exported and not self.decrypted and _as_stored(data)):
                    out[index] = archived_binary(field.db_value(data))
                continue
            if exported and not self.decrypted and _as_stored(value):
                continue  # as stored by the other install: written as it is
            out[index] = field.db_value(value)
        if self.credentials_left_out and self.spec.name in REVOKED_WITHOUT_CREDENTIALS:
            revoked = self.target_columns.index("revoked_at")
            out[revoked] = out[revoked] or revoke_now()
        return out


def _as_stored(value: object) -> bool:
    """Whether an exported sealed value is an envelope (or escaped plain) as stored."""
    if isinstance(value, bytes):
        return value.startswith((BYTES_PREFIX, RAW_BYTES_PREFIX))
    return str(value).startswith((PREFIX, RAW_PREFIX))


def _auto_id(spec: TableSpec) -> bool:
    return isinstance(spec.model._meta.primary_key, pw.AutoField)


def plan_table(name: str, columns: list[str], present: set[str], decrypted: bool) -> TableImport:
    spec = spec_for(name, columns)
    missing = [c for c in columns if c not in present]
    if missing:
        raise RestoreRefused(f"table {name} of this release lacks columns {missing}")
    skip = {"id"} if _auto_id(spec) else set()
    keep = [i for i, c in enumerate(columns) if c not in skip]
    target = [columns[i] for i in keep]
    fillers = []
    for column in CREDENTIAL_COLUMNS.get(name, ()):
        if column not in target:
            target.append(column)
            fillers.append(STAND_INS[(name, column)])
    for absent in missing_columns(spec.model, [*columns, *target], present):
        target.append(absent.column_name)  # an export of an older schema
        fillers.append(functools.partial(default_value, absent))
    sealed = []
    for index, column in enumerate(target):
        field = spec.field(column)
        if field is not None and is_sealed_field(field):
            sealed.append((index, field))
    return TableImport(spec, columns, target, keep, sealed, fillers, decrypted)


def _check_keys(header: dict[str, Any]) -> None:
    if header.get("decrypted"):
        return
    keyring = active_keyring()
    configured = keyring.key_ids if keyring else frozenset()
    missing = sorted(set(header.get("key_ids") or []) - configured)
    if missing:
        raise RestoreRefused(
            f"the export holds values sealed with key id(s) {', '.join(missing)}, which "
            "STEADY_ENCRYPTION_KEYS here lacks: add them, or export again with --decrypt"
        )


def _tenant_rows(database: pw.Database, specs: list[TableSpec], tenant: str) -> list[str]:
    busy = []
    for spec in specs:
        column = quoted(database, spec.tenant_column or "tenant_id")
        found = database.execute_sql(
            f"SELECT 1 FROM {quoted(database, spec.name)} WHERE {column} = {database.param} "
            "LIMIT 1",
            [tenant],
        ).fetchone()
        if found:
            busy.append(spec.name)
    return busy


def _count(database: pw.Database, spec: TableSpec, tenant: str) -> int:
    column = quoted(database, spec.tenant_column or "tenant_id")
    row = database.execute_sql(
        f"SELECT COUNT(*) FROM {quoted(database, spec.name)} WHERE {column} = {database.param}",
        [tenant],
    ).fetchone()
    return int(row[0])


def _write(database: pw.Database, reader: ExportReader) -> dict[str, int]:
    header = reader.header
    present = {spec.name: set(spec.columns) for spec in table_specs(database)}
    plans: dict[str, TableImport] = {}
    inserters: dict[str, RowInserter] = {}
    for name, columns in header["tables"].items():
        plans[name] = plan_table(name, columns, present.get(name, set()), header["decrypted"])
        inserters[name] = RowInserter(database, name, plans[name].target_columns)
    tenant = header["tenant"]
    for name, row in reader.rows():
        spec = plans[name].spec
        if row[plans[name].source_columns.index(spec.tenant_column or "tenant_id")] != tenant:
            raise BackupError(f"the export has a {name} row of another tenant")
        inserters[name].add(plans[name].transform(row))
    for inserter in inserters.values():
        inserter.flush()
    return {name: inserter.checksum.rows for name, inserter in inserters.items()}


def import_file(settings: Settings, options: ImportOptions) -> dict[str, Any]:
    target = redact_url(options.into or settings.effective_database_url)
    with plainly(f"import of {options.path} into {target} failed"):
        return _import_file(settings, options)


def _import_file(settings: Settings, options: ImportOptions) -> dict[str, Any]:
    reader = open_export(options.path)
    header = reader.header
    tenant: str = header["tenant"]
    version = int(header.get("schema_version", 0))
    if version > LATEST_VERSION:
        raise RestoreRefused(
            f"{options.path} is from schema version {version}, newer than this release's "
            f"{LATEST_VERSION}: import it with a newer Steadydesk"
        )
    _check_keys(header)
    expected = reader.counts()  # the whole file is there before anything is written
    target_url = options.into or settings.effective_database_url
    database = make_database(target_url, max_connections=2)
    db.initialize(database)
    try:
        with database.connection_context(), cross_tenant():
            migrate(database)
            specs = table_specs(database, tenant_only=True)
            busy = _tenant_rows(database, specs, tenant)
            if busy and not options.force:
                raise RestoreRefused(
                    f"tenant {tenant} already has rows here (in {', '.join(busy)}): "
                    "add --force to replace them"
                )
            for spec in specs if busy else []:
                column = quoted(database, spec.tenant_column or "tenant_id")
                database.execute_sql(
                    f"DELETE FROM {quoted(database, spec.name)} WHERE {column} = {database.param}",
                    [tenant],
                )
            written = _write(database, reader)
            for kid in header.get("key_ids") or []:
                EncryptionKeyUse.insert(kid=kid).on_conflict_ignore().execute()
            for migration in MIGRATIONS:
                if migration.version > version:
                    migration.apply(database)
            fulltext.rebuild(database)
            found = {s.name: _count(database, s, tenant) for s in specs if s.name in written}
            TenantScope(tenant).create(
                AuditLog,
                actor="cli",
                action="tenant.import",
                target=tenant,
                summary=orjson.dumps(
                    {"file": options.path.name, "rows": written, "from": header.get("created_at")}
                ).decode()[:4000],
            )
    finally:
        close_database(database)
    if written != expected or found != expected:
        raise BackupError(f"import of {options.path} wrote {found} rows, the file holds {expected}")
    return {"tenant": tenant, "target": redact_url(target_url), "rows": found, "ok": True}
