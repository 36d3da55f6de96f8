"""What a backup holds: the data tables, their columns, and how their rows are compared.

Rows travel as lists of plain JSON values, the same on SQLite and MariaDB (a datetime is
``YYYY-MM-DD HH:MM:SS``, then ``.ffffff`` when it has a fraction; a boolean 0 or 1), so an
archive restores on either backend and a table's checksum means the same thing on both.
Sealed columns travel as stored: a backup never opens them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import peewee as pw

from server.storage import fulltext
from server.storage.models import ALL_MODELS, BaseModel, Tenant

# Operational state, not data: the scheduler's lease and run history (a restore must not
# rewind them), export jobs (expire within the hour), bridge link codes (one-time, expire
# within minutes), and the schema version (an archive names its own, and a restore
# migrates the target instead of copying it).
NOT_BACKED_UP = frozenset(
    {"schema_migration", "scheduler_lease", "backup_run", "export_job", "link_code"}
)

Row = list[Any]


@dataclass(frozen=True)
class TableSpec:
    name: str
    model: type[BaseModel]
    columns: tuple[str, ...]
    # The column naming the tenant ("tenant_id", "id" for the tenant table itself), or
    # None for install-wide tables (operators, the key registry).
    tenant_column: str | None
    order_by: tuple[str, ...]

    @property
    def tenant_owned(self) -> bool:
        return self.tenant_column is not None

    def field(self, column: str) -> pw.Field | None:
        for field in self.model._meta.sorted_fields:
            if field.column_name == column:
                return field
        return None


def data_models() -> list[type[BaseModel]]:
    return [m for m in ALL_MODELS if m._meta.table_name not in NOT_BACKED_UP]


def _tenant_column(model: type[BaseModel]) -> str | None:
    if model is Tenant:
        return "id"
    return "tenant_id" if model.tenant_owned else None


def _order(model: type[BaseModel]) -> tuple[str, ...]:
    key = model._meta.primary_key
    if isinstance(key, pw.CompositeKey):
        return tuple(model._meta.fields[name].column_name for name in key.field_names)
    if not isinstance(key, pw.Field):
        raise TypeError(f"{model.__name__} has no primary key")
    return (key.column_name,)


def table_specs(database: pw.Database, *, tenant_only: bool = False) -> list[TableSpec]:
    """Every data table present in ``database``, with its columns as they are there (an
    older schema has fewer)."""
    present = set(database.get_tables())
    specs = []
    for model in data_models():
        name = model._meta.table_name
        tenant_column = _tenant_column(model)
        if name not in present or (tenant_only and tenant_column is None):
            continue
        derived = fulltext.GENERATED_COLUMNS.get(name, ())
        columns = tuple(c.name for c in database.get_columns(name) if c.name not in derived)
        specs.append(TableSpec(name, model, columns, tenant_column, _order(model)))
    return specs


def spec_for(name: str, columns: Sequence[str]) -> TableSpec:
    """The spec of an archived table (its columns as the archive has them)."""
    for model in data_models():
        if model._meta.table_name == name:
            return TableSpec(name, model, tuple(columns), _tenant_column(model), _order(model))
    raise KeyError(name)


def default_value(field: pw.Field) -> Any:
    """What the ORM writes to ``field`` when given nothing (as a Python value)."""
    return field.default() if callable(field.default) else field.default


def missing_columns(
    model: type[BaseModel], given: Sequence[str], present: Iterable[str]
) -> list[pw.Field]:
    """Fields whose columns the target has and rows of an older schema lack: they get the
    value the ORM would have written (NOT NULL columns have no default in the database)."""
    have, skip = set(present), set(given)
    return [
        field
        for field in model._meta.sorted_fields
        if field.column_name in have
        and field.column_name not in skip
        and not isinstance(field, pw.AutoField)  # numbered by the database
    ]


def canonical(value: Any) -> Any:
    """A column value as it travels: JSON-safe, and equal for equal data on both backends."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):  # already archived: a binary column's base64
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8")  # no binary columns; text from a binary cursor
    raise TypeError(f"cannot archive a value of type {type(value).__name__}")


def canonical_row(raw: Iterable[Any]) -> Row:
    return [canonical(v) for v in raw]


# Binary columns (attachments' bytes) travel as {"base64": "..."}: JSON has no bytes, and
# a chunk that happens to be UTF-8 must still come back as bytes.
BINARY_KEY = "base64"


def binary_columns(spec: TableSpec, columns: Sequence[str]) -> list[int]:
    """Positions of ``columns`` that hold bytes (BlobField) in ``spec``'s model."""
    return [i for i, c in enumerate(columns) if isinstance(spec.field(c), pw.BlobField)]


def archived_binary(value: Any) -> Any:
    if value is None:
        return None
    return {BINARY_KEY: base64.b64encode(bytes(value)).decode("ascii")}


def restored_value(value: Any) -> Any:
    """A value as archived, back to what the database takes (bytes for binary columns)."""
    if isinstance(value, dict) and set(value) == {BINARY_KEY}:
        return base64.b64decode(value[BINARY_KEY])
    return value


def encode_row(row: Row) -> bytes:
    return orjson.dumps(row)


class TableChecksum:
    """An order-independent checksum of a table: the sum of its rows' SHA-256 (mod 2^256).

    Order-independent because the two backends do not sort text the same way; a sum, not
    an XOR, so a row stored twice does not cancel out."""

    MODULUS = 1 << 256

    def __init__(self) -> None:
        self.rows = 0
        self._sum = 0

    def add(self, encoded_row: bytes) -> None:
        self.rows += 1
        digest = hashlib.sha256(encoded_row).digest()
        self._sum = (self._sum + int.from_bytes(digest, "big")) % self.MODULUS

    @property
    def hexdigest(self) -> str:
        return f"{self._sum:064x}"
