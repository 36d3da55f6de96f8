"""Writing rows back: multi-row INSERTs of values exactly as archived.

Sealed columns are written as stored (an archive never holds them opened), so nothing is
sealed twice; the tenant guard is not involved because these are plain SQL statements,
which is right for a restore: it writes whole tables (or one tenant's rows) on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import peewee as pw

from backups.tables import Row, TableChecksum, encode_row, restored_value

# SQLite allows 32,766 bound values per statement; both backends like a few hundred rows.
MAX_VALUES_PER_STATEMENT = 30_000
MAX_ROWS_PER_STATEMENT = 500
LARGE_ROW_TABLES = {"attachment_chunk": 4}  # attachments' bytes, 1 MB a row
STATEMENTS_PER_TRANSACTION = 10


def quoted(database: pw.Database, name: str) -> str:
    return f"{database.quote[0]}{name}{database.quote[1]}"


class RowInserter:
    """Buffers rows of one table and inserts them a statement at a time; a transaction
    per few statements keeps a restore into a live install from holding SQLite's write
    lock for long. ``checksum`` covers every row given, as archived."""

    def __init__(self, database: pw.Database, table: str, columns: Sequence[str]):
        self._database = database
        self._columns = list(columns)
        self._rows_per_statement = max(
            1, min(MAX_ROWS_PER_STATEMENT, MAX_VALUES_PER_STATEMENT // max(1, len(columns)))
        )
        if table in LARGE_ROW_TABLES:  # rows of up to 1 MB: stay under max_allowed_packet
            self._rows_per_statement = LARGE_ROW_TABLES[table]
        names = ", ".join(quoted(database, c) for c in columns)
        self._head = f"INSERT INTO {quoted(database, table)} ({names}) VALUES "
        self._one = "(" + ", ".join([database.param] * len(columns)) + ")"
        self._pending: list[Row] = []
        self.checksum = TableChecksum()

    def add(self, row: Row, *, checksum_row: Row | None = None) -> None:
        if len(row) != len(self._columns):
            raise ValueError(f"a row has {len(row)} values for {len(self._columns)} columns")
        self.checksum.add(encode_row(checksum_row if checksum_row is not None else row))
        self._pending.append([restored_value(value) for value in row])
        if len(self._pending) >= self._rows_per_statement * STATEMENTS_PER_TRANSACTION:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        size = self._rows_per_statement
        with self._database.atomic():
            for start in range(0, len(self._pending), size):
                chunk = self._pending[start : start + size]
                params: list[Any] = [value for row in chunk for value in row]
                self._database.execute_sql(self._head + ", ".join([self._one] * len(chunk)), params)
        self._pending.clear()
