"""Schema changes that keep MySQL/MariaDB tables writable while they run (issue #21, item 8).

Each change asks InnoDB for the least blocking way it has and says so in the statement,
so the server refuses (instead of silently copying the table under a write lock):

* ``ADD COLUMN``: ``ALGORITHM=INSTANT`` (metadata only), else ``INPLACE, LOCK=NONE``;
* secondary indexes and ``VARCHAR`` widening: ``ALGORITHM=INPLACE, LOCK=NONE``.

When the server refuses every online form (an old version, an unusual column), the change
runs in the server's default way with a warning in the log. A FULLTEXT index is the one
change InnoDB cannot make with concurrent writes: see ``fulltext.install`` and the
online-schema-change path in docs/operations.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import peewee as pw

from server.storage.column_defaults import has_plain_default, sql_literal

log = logging.getLogger(__name__)

INSTANT = "ALGORITHM=INSTANT"
ONLINE = "ALGORITHM=INPLACE, LOCK=NONE"
# ER_ALTER_OPERATION_NOT_SUPPORTED(_REASON); a parse error when INSTANT is unknown (MySQL 5.7).
_REFUSED = {1845, 1846, 1064}


def _refused(err: Exception) -> bool:
    return bool(err.args) and err.args[0] in _REFUSED


def run_online(
    database: pw.Database, statement: str, forms: Sequence[str], *, glue: str = ", "
) -> str:
    """Run ``statement`` with the first of ``forms`` the server accepts; the form used
    ("" when it had to fall back to the server's default, which may block writes)."""
    for form in forms:
        try:
            database.execute_sql(f"{statement}{glue}{form}")
            return form
        except pw.DatabaseError as err:
            if not _refused(err):
                raise
            log.info("%s: the server refused %s (%s)", statement[:80], form, err)
    log.warning("schema change may block writes (no online form accepted): %s", statement[:200])
    database.execute_sql(statement)
    return ""


def fits_one_statement(field: pw.Field) -> bool:
    """A column that one ADD COLUMN can fill: nullable, or with a plain (not computed)
    default. Others need the migrator's add-null, fill, set-not-null steps."""
    return bool(field.null) or (field.default is not None and not callable(field.default))


def column_definition(database: pw.Database, field: pw.Field) -> str:
    """The column's DDL; a NOT NULL column with a plain default gets it as DEFAULT, so
    existing rows (and an older release's INSERTs during a rollout) have a value."""
    ctx = database.get_sql_context()
    sql, params = ctx.sql(field.ddl(ctx)).query()
    if params:
        raise ValueError(f"a column definition with parameters: {sql}")
    if has_plain_default(field) and " DEFAULT " not in sql:
        sql += f" DEFAULT {sql_literal(field.default)}"
    return str(sql)


def add_column(database: pw.Database, table: str, field: pw.Field) -> str:
    definition = column_definition(database, field)
    return run_online(database, f"ALTER TABLE `{table}` ADD COLUMN {definition}", (INSTANT, ONLINE))


def create_index(database: pw.Database, model: type[pw.Model], index: pw.Index) -> str:
    ctx = database.get_sql_context()
    schema = model._schema  # type: ignore[attr-defined]  # peewee sets it on every model
    sql, params = ctx.sql(schema._create_index(index, safe=False)).query()
    if params:
        raise ValueError(f"partial indexes are not supported online: {sql}")
    # CREATE INDEX takes the algorithm and lock options after the key parts, unseparated.
    return run_online(database, sql, ("ALGORITHM=INPLACE LOCK=NONE",), glue=" ")


def modify_varchar(database: pw.Database, table: str, column: str, length: int, null: bool) -> str:
    spec = "NULL" if null else "NOT NULL"
    statement = f"ALTER TABLE `{table}` MODIFY `{column}` VARCHAR({int(length)}) {spec}"
    return run_online(database, statement, (ONLINE,))
