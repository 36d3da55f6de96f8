"""The three export formats, written as rows arrive (nothing is held but one row), and
read back by ``import`` (JSON and CSV).

* ``json``: JSON Lines. The header object (``"format": "steadydesk-export"``), then
  ``{"table": t, "row": [...]}`` per row (values in the header's column order), then
  ``{"end": {"rows": {t: n}}}``; a file without its trailer is incomplete.
* ``csv``: a zip with ``<table>.csv`` (a header line of column names) per table, and
  ``manifest.json`` (the header plus the row counts). An empty cell is NULL where the
  column allows NULL.
* ``sql``: ``INSERT`` statements for this install's backend (MariaDB/MySQL or SQLite),
  to load with its own client into a database made by ``steadydesk migrate``.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from backups.errors import ArchiveDamaged
from backups.files import Sink
from backups.tables import Row, binary_columns, restored_value, spec_for

SQL_ROWS_PER_STATEMENT = 100
CSV_MANIFEST = "manifest.json"


class ExportWriter(Protocol):
    def __init__(self, out: Sink, header: dict[str, Any], *, mysql: bool) -> None: ...
    def row(self, table: str, row: Row) -> None: ...
    def finish(self) -> dict[str, int]: ...


class _Counting:
    def __init__(self, header: dict[str, Any]):
        self.header = header
        self.counts: dict[str, int] = {name: 0 for name in header["tables"]}

    def count(self, table: str) -> None:
        self.counts[table] += 1


class JsonLinesWriter(_Counting):
    def __init__(self, out: Sink, header: dict[str, Any], *, mysql: bool):
        super().__init__(header)
        self._out = out
        out.write(orjson.dumps(header) + b"\n")

    def row(self, table: str, row: Row) -> None:
        self.count(table)
        self._out.write(orjson.dumps({"table": table, "row": row}) + b"\n")

    def finish(self) -> dict[str, int]:
        self._out.write(orjson.dumps({"end": {"rows": self.counts}}) + b"\n")
        return self.counts


class CsvZipWriter(_Counting):
    def __init__(self, out: Sink, header: dict[str, Any], *, mysql: bool):
        super().__init__(header)
        sink: Any = out  # a file, or a stream without seek (the REST download)
        self._zip = zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED)
        self._table: str | None = None
        self._member: IO[bytes] | None = None
        self._text: io.TextIOWrapper | None = None
        self._csv: Any = None

    def _open(self, table: str) -> None:
        self._close_member()
        self._table = table
        info = zipfile.ZipInfo(f"{table}.csv", date_time=time.gmtime()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        self._member = self._zip.open(info, mode="w", force_zip64=True)
        self._text = io.TextIOWrapper(self._member, encoding="utf-8", newline="")
        self._csv = csv.writer(self._text)
        self._csv.writerow(self.header["tables"][table])

    def _close_member(self) -> None:
        if self._text is not None:
            self._text.close()  # closes the member too
        self._text = self._member = None

    def row(self, table: str, row: Row) -> None:
        if table != self._table:
            self._open(table)
        self.count(table)
        self._csv.writerow(
            [
                "" if v is None else orjson.dumps(v).decode() if isinstance(v, dict) else v
                for v in row
            ]
        )

    def finish(self) -> dict[str, int]:
        self._close_member()
        for table in self.header["tables"]:
            if self.counts[table] == 0:  # an empty table still has its file and header line
                self._open(table)
                self._close_member()
        manifest = {**self.header, "rows": self.counts}
        self._zip.writestr(CSV_MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        self._zip.close()
        return self.counts


def sql_literal(value: Any, *, mysql: bool) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dict):  # a binary column (tables.archived_binary): a blob literal
        return "X'" + restored_value(value).hex() + "'"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if mysql:  # MySQL's default sql_mode reads backslashes as escapes
        text = text.replace("\\", "\\\\").replace("\0", "\\0")
    return "'" + text.replace("'", "''") + "'"


class SqlWriter(_Counting):
    def __init__(self, out: Sink, header: dict[str, Any], *, mysql: bool):
        super().__init__(header)
        self._out = out
        self._mysql = mysql
        self._quote = "`" if mysql else '"'
        self._table: str | None = None
        self._pending: list[str] = []
        backend = "MariaDB/MySQL" if mysql else "SQLite"
        lines = [
            f"-- Steadydesk export of tenant {header['tenant']} ({backend}), "
            f"{header['created_at']}, schema version {header['schema_version']}.",
            "-- Load into a database made by `steadydesk migrate` at that schema version.",
            "-- decrypted: "
            + str(header["decrypted"]).lower()
            + ", with credentials: "
            + str(header["with_credentials"]).lower(),
        ]
        if mysql:
            lines.append("SET NAMES utf8mb4;")
        lines.append("BEGIN;" if not mysql else "START TRANSACTION;")
        self._write("\n".join(lines) + "\n")

    def _write(self, text: str) -> None:
        self._out.write(text.encode("utf-8"))

    def _flush(self) -> None:
        if not self._pending or self._table is None:
            return
        q = self._quote
        columns = ", ".join(f"{q}{c}{q}" for c in self.header["tables"][self._table])
        self._write(
            f"INSERT INTO {q}{self._table}{q} ({columns}) VALUES\n"
            + ",\n".join(self._pending)
            + ";\n"
        )
        self._pending.clear()

    def row(self, table: str, row: Row) -> None:
        if table != self._table or len(self._pending) >= SQL_ROWS_PER_STATEMENT:
            self._flush()
            self._table = table
        self.count(table)
        self._pending.append("(" + ", ".join(sql_literal(v, mysql=self._mysql) for v in row) + ")")

    def finish(self) -> dict[str, int]:
        self._flush()
        self._write("COMMIT;\n")
        return self.counts


WRITERS: dict[str, type[ExportWriter]] = {
    "json": JsonLinesWriter,
    "csv": CsvZipWriter,
    "sql": SqlWriter,
}


# ---------------------------------------------------------------------------- reading


class ExportReader(Protocol):
    header: dict[str, Any]

    def rows(self) -> Iterator[tuple[str, Row]]: ...
    def counts(self) -> dict[str, int]: ...


class JsonLinesReader:
    def __init__(self, path: Path):
        self._path = path
        with open(path, "rb") as fh:
            first = fh.readline()
        self.header = _header(path, first)

    def _lines(self) -> Iterator[dict[str, Any]]:
        with open(self._path, "rb") as fh:
            fh.readline()
            for number, line in enumerate(fh, start=2):
                try:
                    item = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise ArchiveDamaged(f"{self._path} line {number} is not JSON") from None
                if not isinstance(item, dict):
                    raise ArchiveDamaged(f"{self._path} line {number} is not an object")
                yield item

    def rows(self) -> Iterator[tuple[str, Row]]:
        for item in self._lines():
            if "end" in item:
                return
            table, row = item.get("table"), item.get("row")
            if not isinstance(table, str) or table not in self.header["tables"]:
                raise ArchiveDamaged(f"{self._path} has a row of an unknown table {table!r}")
            if not isinstance(row, list):
                raise ArchiveDamaged(f"{self._path} has a row that is not a list")
            yield table, row

    def counts(self) -> dict[str, int]:
        """The trailer's counts, after checking the rows are all there (a first pass)."""
        seen = {name: 0 for name in self.header["tables"]}
        trailer = None
        for item in self._lines():
            if "end" in item:
                trailer = item["end"]
                break
            seen[item.get("table")] = seen.get(item.get("table"), 0) + 1
        if not isinstance(trailer, dict) or trailer.get("rows") != seen:
            raise ArchiveDamaged(f"{self._path} is incomplete: its rows do not match its trailer")
        return seen


class CsvZipReader:
    def __init__(self, path: Path):
        self._path = path
        try:
            self._zip = zipfile.ZipFile(path)
            manifest = self._zip.read(CSV_MANIFEST)
        except (zipfile.BadZipFile, KeyError, OSError) as err:
            raise ArchiveDamaged(f"{path} is not a complete CSV export: {err}") from None
        self.header = _header(path, manifest)

    def rows(self) -> Iterator[tuple[str, Row]]:
        nullable = self.header.get("nullable", {})
        for table, columns in self.header["tables"].items():
            may_be_null = [c in nullable.get(table, ()) for c in columns]
            try:
                binary = set(binary_columns(spec_for(table, columns), columns))
            except KeyError:  # a table this version does not know: the importer says so
                binary = set()
            try:
                with self._zip.open(f"{table}.csv") as member:
                    reader = csv.reader(io.TextIOWrapper(member, encoding="utf-8", newline=""))
                    if next(reader, None) != columns:
                        raise ArchiveDamaged(f"{self._path}: {table}.csv has other columns")
                    for values in reader:
                        row: Row = [
                            None if (v == "" and null) else v
                            for v, null in zip(values, may_be_null, strict=True)
                        ]
                        for i in binary:  # written as {"base64": ...} JSON
                            if row[i] is not None:
                                row[i] = orjson.loads(row[i])
                        yield table, row
            except (zipfile.BadZipFile, KeyError, ValueError) as err:
                raise ArchiveDamaged(f"{self._path}: {table}.csv is damaged: {err}") from None

    def counts(self) -> dict[str, int]:
        seen = {name: 0 for name in self.header["tables"]}
        for table, _ in self.rows():
            seen[table] += 1
        if seen != self.header.get("rows"):
            raise ArchiveDamaged(f"{self._path} is incomplete: its rows do not match manifest.json")
        return seen


def _header(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        header = orjson.loads(raw)
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != "steadydesk-export":
        raise ArchiveDamaged(f"{path} is not a Steadydesk export")
    if not isinstance(header.get("tables"), dict) or not header.get("tenant"):
        raise ArchiveDamaged(f"{path} has a damaged header")
    return header


def open_export(path: Path) -> ExportReader:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK"):
        return CsvZipReader(path)
    if magic.startswith(b"--") or magic[:1] in (b"S", b"B"):
        raise ArchiveDamaged(
            f"{path} is an SQL export: load it with the database's own client, not import"
        )
    return JsonLinesReader(path)
