"""``steadydesk export``: one tenant's data, streamed, in JSON, CSV or SQL.

Everything of the tenant: conversations, messages and notes, visitors and their page
trails, agents, departments, sites, canned replies, labels, settings, the audit and login
logs. Ids are kept, so an ``import`` elsewhere keeps every link, and (with
``--with-credentials``) the site secrets and the tenant's visitor-token key, so the
widget's visitors keep their sessions. Sealed columns are exported as stored unless
``--decrypt`` opens them through their ORM fields. Rows are read in one consistent snapshot
and written as they come: memory stays flat however many messages the tenant has.

Formats (formats.py): ``json`` is JSON Lines (a header, one object per row, a trailer
with the row counts); ``csv`` a zip of one CSV per table plus ``manifest.json``; ``sql``
INSERT statements for this install's backend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import peewee as pw

from backups.backup import iso
from backups.credentials import (
    CREDENTIAL_COLUMNS,
    CREDENTIAL_TABLES,
    REVOKED_WITHOUT_CREDENTIALS,
    STAND_INS,
    revoke_now,
)
from backups.errors import BackupError, plainly
from backups.files import Sink, atomic_private_file
from backups.formats import WRITERS, ExportWriter
from backups.outside_bytes import outside_bytes
from backups.source import RowSource, open_snapshot
from backups.tables import Row, TableSpec, archived_binary, restored_value, table_specs
from server import __version__
from server.config import Settings, ensure_secret_key
from server.security.encryption import SealedValueError
from server.security.tokens import TenantKeys, encode_key
from server.storage.database import is_mysql
from server.storage.guard import TenantScope, cross_tenant
from server.storage.migrations import current_version
from server.storage.models import AuditLog, EncryptionKeyUse, Tenant, utcnow
from server.storage.sealed import SealedBlobField, is_sealed_field

FORMAT = "steadydesk-export"
FORMAT_VERSION = 1
FORMATS = ("json", "csv", "sql")


@dataclass(frozen=True)
class ExportOptions:
    tenant: str
    format: str = "json"
    decrypt: bool = False
    with_credentials: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "decrypt": self.decrypt,
            "with_credentials": self.with_credentials,
        }


@dataclass(frozen=True)
class TablePlan:
    spec: TableSpec
    columns: tuple[str, ...]  # as exported
    read: tuple[str, ...]  # as read (without the stood-in credentials)
    opened: tuple[tuple[int, pw.Field], ...]  # sealed columns to open (--decrypt)
    stand_ins: tuple[tuple[int, Callable[[], Any]], ...]  # credentials left out (sql)

    def finish(self, row: Row) -> Row:
        for index, make in self.stand_ins:
            row.insert(index, make())
        if self.stand_ins and self.spec.name in REVOKED_WITHOUT_CREDENTIALS:
            revoked = self.columns.index("revoked_at")
            row[revoked] = row[revoked] or revoke_now()
        return row


def plan(database: pw.Database, options: ExportOptions) -> list[TablePlan]:
    """What each table exports. Credentials left out are absent from JSON and CSV (their
    importer stands in for them); SQL keeps every column (its rows load as they are), with
    stand-ins that grant nothing."""
    plans = []
    whole_rows = options.format == "sql"
    for spec in table_specs(database, tenant_only=True):
        if spec.name in CREDENTIAL_TABLES and not options.with_credentials:
            continue
        hidden = () if options.with_credentials else CREDENTIAL_COLUMNS.get(spec.name, ())
        read = tuple(c for c in spec.columns if c not in hidden)
        columns = spec.columns if whole_rows else read
        stand_ins = tuple(
            (columns.index(c), STAND_INS[(spec.name, c)])
            for c in (hidden if whole_rows else ())
            if c in columns
        )
        opened: list[tuple[int, pw.Field]] = []
        if options.decrypt:
            for index, column in enumerate(read):
                field = spec.field(column)
                if field is not None and is_sealed_field(field):
                    opened.append((index, field))
        plans.append(TablePlan(spec, columns, read, tuple(opened), stand_ins))
    return plans


def _own_token_key_row(settings: Settings, tenant: str, columns: tuple[str, ...]) -> Row:
    """This install's visitor-token key of the tenant (derived, never stored) as a row of
    ``tenant_token_key``, so the importing install accepts the tokens it signed."""
    kid, key = TenantKeys(ensure_secret_key(settings)).own(tenant)
    values = {
        "id": kid,
        "tenant_id": tenant,
        "key": encode_key(key),
        "created_at": utcnow().isoformat(sep=" "),
    }
    return [values.get(c) for c in columns]


def export_rows(
    settings: Settings, source: RowSource, plans: list[TablePlan], tenant: str
) -> Iterator[tuple[TablePlan, Row]]:
    # Attachments in a directory or a bucket travel as database chunks (backups/outside_bytes.py).
    attachments = [t for t in plans if t.spec.name == "attachment"]
    moved = outside_bytes(settings) if attachments else None
    if moved is not None:
        moved.collect(source, attachments[0].spec, tenant, attachments[0].read)
    for table in plans:
        for row in source.rows(table.spec, table.read, tenant):
            for index, field in table.opened:
                try:
                    row[index] = _opened(field, row[index])
                except SealedValueError as err:
                    raise BackupError(f"cannot --decrypt {table.spec.name}: {err}") from None
            if moved is not None and table.spec.name == "attachment":
                row = moved.attachment_row(table.read, row)
            yield table, table.finish(row)
        if moved is not None and table.spec.name == "attachment_chunk":
            for row in moved.chunk_rows(table.read, seal=not table.opened):
                yield table, table.finish(row)
        if table.spec.name == "tenant_token_key":
            yield table, _own_token_key_row(settings, tenant, table.columns)


def _opened(field: pw.Field, value: Any) -> Any:
    """A sealed column's value opened (``--decrypt``); bytes stay archived as base64."""
    if isinstance(field, SealedBlobField) and value is not None:
        return archived_binary(field.python_value(restored_value(value)))
    return field.python_value(value)


def header(database: pw.Database, options: ExportOptions, plans: list[TablePlan]) -> dict[str, Any]:
    with cross_tenant():
        kids = sorted(row.kid for row in EncryptionKeyUse.select(EncryptionKeyUse.kid))
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "steadydesk_version": __version__,
        "tenant": options.tenant,
        "schema_version": current_version(database),
        "created_at": iso(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
        "backend": "mysql" if is_mysql(database) else "sqlite",
        "decrypted": options.decrypt,
        "with_credentials": options.with_credentials,
        # Sealed values in a file that was not decrypted open only with these keys.
        "key_ids": [] if options.decrypt else kids,
        "tables": {p.spec.name: list(p.columns) for p in plans},
        # For CSV, where an empty cell is NULL only in these columns.
        "nullable": {p.spec.name: _nullable(p) for p in plans},
    }


def _nullable(table: TablePlan) -> list[str]:
    return [c for c in table.columns if (f := table.spec.field(c)) is not None and f.null]


def check_options(options: ExportOptions) -> None:
    if options.format not in FORMATS:
        raise BackupError(f"unknown export format {options.format!r}: json, csv or sql")
    if Tenant.get_or_none(Tenant.id == options.tenant) is None:
        raise BackupError(f"no tenant {options.tenant!r} in this install")


def audit_export(tenant: str, actor: str, options: ExportOptions, ip: str = "") -> None:
    TenantScope(tenant).create(
        AuditLog,
        actor=actor[:100],
        action="tenant.export",
        target=tenant,
        summary=orjson.dumps(options.describe()).decode(),
        ip=ip[:45],
    )


def write_export(
    settings: Settings, database: pw.Database, options: ExportOptions, out: Sink
) -> dict[str, Any]:
    """Stream the export into ``out``; the row counts per table."""
    with plainly(f"export of tenant {options.tenant} failed"):
        return _write_export(settings, database, options, out)


def _write_export(
    settings: Settings, database: pw.Database, options: ExportOptions, out: Sink
) -> dict[str, Any]:
    check_options(options)
    plans = plan(database, options)
    head = header(database, options, plans)
    writer: ExportWriter = WRITERS[options.format](out, head, mysql=is_mysql(database))
    with open_snapshot(database) as source:
        for table, row in export_rows(settings, source, plans, options.tenant):
            writer.row(table.spec.name, row)
    counts = writer.finish()
    return {"tenant": options.tenant, "format": options.format, "rows": counts}


def export_to_stream(
    settings: Settings, database: pw.Database, options: ExportOptions, out: Sink, *, actor: str
) -> dict[str, Any]:
    check_options(options)
    audit_export(options.tenant, actor, options)
    return write_export(settings, database, options, out)


def export_to_path(
    settings: Settings, database: pw.Database, options: ExportOptions, path: Path, *, actor: str
) -> dict[str, Any]:
    """Write the export to ``path`` (0600, complete or not at all)."""
    check_options(options)
    if path.exists():
        raise BackupError(f"{path} exists: the export never overwrites a file")
    audit_export(options.tenant, actor, options)
    with atomic_private_file(path) as fh:
        summary = write_export(settings, database, options, fh)
    return {**summary, "out": str(path), "size": path.stat().st_size}
