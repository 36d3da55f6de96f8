"""Re-sealing stored data with the current key, so an old key can be retired.

Walks every sealed column in id order (attachments' chunks too, in theirs), a batch per
transaction, and rewrites each value not sealed with the current key (older keys and
plain text alike). Each row is updated only if it still holds the value that was read, so
it is safe while nodes are running.
Afterwards a key id that no longer seals anything leaves the key registry, and the next
start no longer needs it.

Nothing is done while a running node still seals with another key than the current one
(``node_keys``: each node reports its keys): rows it writes after the retirement would
no longer open once the old key leaves the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import peewee as pw

from server.errors import StartupError, SteadyError
from server.security.encryption import BYTES_PREFIX, PREFIX
from server.storage import node_keys
from server.storage.guard import cross_tenant
from server.storage.models import (
    ApiKey,
    AttachmentChunk,
    Conversation,
    EncryptionKeyUse,
    Message,
    Site,
    TenantTokenKey,
    Visitor,
)
from server.storage.sealed import active_keyring

DEFAULT_BATCH = 500
CHUNK_BATCH = 8  # attachments' chunks are up to 1 MB each: a few per transaction


class KeyStillSealing(SteadyError):
    """A live node seals with another key than the current one: nothing was retired."""


def refuse_while_nodes_seal_with_other_keys(current: str) -> None:
    others = [r for r in node_keys.live_reports() if r.current != current]
    if others:
        named = ", ".join(f"{r.node} seals with {r.current or 'no key'}" for r in others)
        raise KeyStillSealing(
            f"reencrypt refused: running node(s) do not seal with the current key {current} "
            f"yet ({named}); restart them with STEADY_ENCRYPTION_KEY_ID={current} first "
            f"(a stopped node's report lapses {node_keys.EXPIRY_PERIODS} report periods "
            "after it stops)"
        )


@dataclass
class ResealReport:
    resealed: dict[str, int] = field(default_factory=dict)
    retired_keys: list[str] = field(default_factory=list)


def sealed_columns() -> list[tuple[type[pw.Model], pw.Field]]:
    """Every sealed column, with the model whose ``id`` orders the walk."""
    return [
        (Message, Message.body),
        (Visitor, Visitor.name),
        (Visitor, Visitor.email),
        (Conversation, Conversation.rating_comment),
        (TenantTokenKey, TenantTokenKey.key),
        (Site, Site.secret),
        (ApiKey, ApiKey.secret),
    ]


def _quoted(database: pw.Database, name: str) -> str:
    return f"{database.quote[0]}{name}{database.quote[1]}"


def _reseal_column(
    database: pw.Database, model: type[pw.Model], column: Any, current_prefix: str, batch: int
) -> int:
    table = _quoted(database, model._meta.table_name)
    name = _quoted(database, column.column_name)
    p = database.param
    done, last = 0, ""
    while True:
        rows = database.execute_sql(
            f"SELECT id, {name} FROM {table} WHERE id > {p} AND {name} IS NOT NULL "
            f"ORDER BY id LIMIT {int(batch)}",
            (last,),
        ).fetchall()
        if not rows:
            return done
        with database.atomic():
            for row_id, raw in rows:
                if raw.startswith(current_prefix):
                    continue
                fresh = column.db_value(column.python_value(raw))
                cursor = database.execute_sql(
                    f"UPDATE {table} SET {name} = {p} WHERE id = {p} AND {name} = {p}",
                    (fresh, row_id, raw),
                )
                done += cursor.rowcount
        last = rows[-1][0]


def _reseal_chunks(database: pw.Database, current_prefix: bytes) -> int:
    """Attachments' chunks (bytes, keyed by attachment and number), as ``_reseal_column``."""
    table = _quoted(database, AttachmentChunk._meta.table_name)
    field: Any = AttachmentChunk.data
    p = database.param
    done, last_id, last_n = 0, "", -1
    while True:
        rows = database.execute_sql(
            f"SELECT attachment_id, n, data FROM {table} WHERE attachment_id > {p} "
            f"OR (attachment_id = {p} AND n > {p}) ORDER BY attachment_id, n "
            f"LIMIT {CHUNK_BATCH}",
            (last_id, last_id, last_n),
        ).fetchall()
        if not rows:
            return done
        with database.atomic():
            for attachment_id, n, stored in rows:
                raw = bytes(stored)
                if raw.startswith(current_prefix):
                    continue
                fresh = field.db_value(field.python_value(raw))
                cursor = database.execute_sql(
                    f"UPDATE {table} SET data = {p} "
                    f"WHERE attachment_id = {p} AND n = {p} AND data = {p}",
                    (fresh, attachment_id, n, raw),
                )
                done += cursor.rowcount
        last_id, last_n = rows[-1][0], rows[-1][1]


def _still_used(database: pw.Database, kid: str) -> bool:
    p = database.param
    for model, column in sealed_columns():
        table = _quoted(database, model._meta.table_name)
        name = _quoted(database, column.column_name)
        found = database.execute_sql(
            f"SELECT 1 FROM {table} WHERE {name} LIKE {p} LIMIT 1", (f"{PREFIX}{kid}:%",)
        ).fetchone()
        if found:
            return True
    chunks = _quoted(database, AttachmentChunk._meta.table_name)
    prefix = BYTES_PREFIX + kid.encode() + b":"
    found = database.execute_sql(
        f"SELECT 1 FROM {chunks} WHERE SUBSTR(data, 1, {len(prefix)}) = {p} LIMIT 1", (prefix,)
    ).fetchone()
    return found is not None


def reseal_all(database: pw.Database, batch: int = DEFAULT_BATCH) -> ResealReport:
    keyring = active_keyring()
    if keyring is None:
        raise StartupError("reencrypt needs STEADY_ENCRYPTION_KEYS (with every key still in use)")
    refuse_while_nodes_seal_with_other_keys(keyring.current)
    current_prefix = f"{PREFIX}{keyring.current}:"
    report = ResealReport()
    with cross_tenant():
        for model, column in sealed_columns():
            label = f"{model._meta.table_name}.{column.column_name}"
            report.resealed[label] = _reseal_column(database, model, column, current_prefix, batch)
        report.resealed["attachment_chunk.data"] = _reseal_chunks(database, keyring.bytes_prefix)
        # Again: a node may have started with an old key while the rows were rewritten.
        refuse_while_nodes_seal_with_other_keys(keyring.current)
        for row in list(EncryptionKeyUse.select()):
            if row.kid != keyring.current and not _still_used(database, row.kid):
                EncryptionKeyUse.delete().where(EncryptionKeyUse.kid == row.kid).execute()
                report.retired_keys.append(row.kid)
    return report
