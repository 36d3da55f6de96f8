"""Plain column defaults live in the database too, not only in Python.

An older release's INSERT during a gray rollout names only the columns it knows; a NOT NULL
column it does not know needs a database default. Columns added by a migration get one
(``online_ddl.add_column``), so tables made fresh by this release must carry the same, or a
fresh install and an upgraded one would differ (as ``site.ai_mode`` once did).
"""

from __future__ import annotations

from collections.abc import Iterable

import peewee as pw


def sql_literal(value: object) -> str:
    """A constant default as SQL that both SQLite and MySQL read the same way."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace("'", "''")
    return f"'{text}'"


def has_plain_default(field: pw.Field) -> bool:
    """NOT NULL with a constant (not computed) default: the columns this module is about."""
    return not field.null and field.default is not None and not callable(field.default)


def declare_database_defaults(models: Iterable[type[pw.Model]]) -> None:
    """Give every NOT NULL column with a constant default that default in its DDL."""
    for model in models:
        for field in model._meta.sorted_fields:
            if field.primary_key or not has_plain_default(field):
                continue
            constraints = list(field.constraints or [])
            if any("DEFAULT" in getattr(c, "sql", "") for c in constraints):
                continue
            # The Python value, not db_value(): a sealed column would encrypt it.
            constraints.append(pw.SQL(f"DEFAULT {sql_literal(field.default)}"))
            field.constraints = constraints
