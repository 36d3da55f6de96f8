"""Full-text search over message bodies: FTS5 on SQLite, FULLTEXT on MySQL/MariaDB.

SQLite keeps an external-content FTS5 table (``message_fts``, rowid = the message's
rowid) in sync with triggers, so the writer's multi-row insert stays one statement.
MySQL keeps an InnoDB FULLTEXT index on ``message.body``, built without stopwords (a
search for "what" or "about" must find something). InnoDB does not index words shorter
than ``innodb_ft_min_token_size`` (default 3): such terms are matched with ``LIKE``
instead, scoped by the other conditions.

User input never reaches either query language as syntax: it is split into words and
each word is quoted (FTS5) or stripped to letters and digits (MySQL boolean mode).
"""

from __future__ import annotations

import re
from typing import Any

import peewee as pw

from server.storage.database import is_mysql
from server.storage.models import Message

FTS_TABLE = "message_fts"
MYSQL_INDEX = "message_body_fulltext"
MYSQL_MIN_TOKEN_CHARS = 3  # InnoDB's innodb_ft_min_token_size default
MAX_TERMS = 8
TERM_MAX_CHARS = 64
_WORD = re.compile(r"\w+", re.UNICODE)

_SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "body, content='message', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER IF NOT EXISTS message_fts_ai AFTER INSERT ON message BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, body) VALUES (new.rowid, new.body); END",
    f"CREATE TRIGGER IF NOT EXISTS message_fts_ad AFTER DELETE ON message BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, body) VALUES ('delete', old.rowid, old.body); "
    "END",
    f"CREATE TRIGGER IF NOT EXISTS message_fts_au AFTER UPDATE OF body ON message BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, body) VALUES ('delete', old.rowid, old.body); "
    f"INSERT INTO {FTS_TABLE}(rowid, body) VALUES (new.rowid, new.body); END",
)


def install(database: pw.Database) -> None:
    """Create the search index if it is missing (idempotent; indexes existing rows)."""
    if is_mysql(database):
        present = {index.name for index in database.get_indexes("message")}
        if MYSQL_INDEX not in present:
            # The stopword setting is captured when the index is built.
            database.execute_sql("SET SESSION innodb_ft_enable_stopword = 0")
            # InnoDB builds a FULLTEXT index in place at best, and never with concurrent
            # writes (the first one also rebuilds the table): LOCK=SHARED says so. On a
            # large table build it beforehand with an online schema change tool; this
            # then finds it and skips (docs/operations.md, "Online migrations").
            database.execute_sql(
                f"ALTER TABLE message ADD FULLTEXT INDEX {MYSQL_INDEX} (body), "
                "ALGORITHM=INPLACE, LOCK=SHARED"
            )
        return
    existed = FTS_TABLE in database.get_tables()
    for statement in _SQLITE_DDL:
        database.execute_sql(statement)
    if not existed:
        rebuild(database)


def rebuild(database: pw.Database) -> None:
    """Re-index every message (SQLite): after anything that may renumber ``message``'s
    rowids behind the triggers' back, such as restoring a file made by ``VACUUM INTO``."""
    if not is_mysql(database):
        database.execute_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


def search_terms(query: str) -> list[str]:
    """The words of a user's query, lower-cased, deduplicated, bounded."""
    terms: list[str] = []
    for word in _WORD.findall(query.lower()):
        word = word[:TERM_MAX_CHARS]
        if word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


def match_condition(database: pw.Database, terms: list[str]) -> Any:
    """A WHERE condition on ``Message`` that holds when the body has every term
    (each as a word prefix)."""
    if is_mysql(database):
        return _mysql_condition(terms)
    expression = " ".join('"' + term.replace('"', '""') + '"*' for term in terms)
    rowid = pw.NodeList((Message._meta.table, pw.SQL(".rowid")), glue="")
    return rowid.in_(
        pw.NodeList(
            (
                pw.SQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH"),
                pw.Value(expression),
            ),
            parens=True,
        )
    )


def _mysql_condition(terms: list[str]) -> Any:
    long_terms = [t for t in terms if len(t) >= MYSQL_MIN_TOKEN_CHARS]
    conditions: list[Any] = []
    if long_terms:
        expression = " ".join(f"+{term}*" for term in long_terms)
        conditions.append(
            pw.NodeList(
                (
                    pw.SQL("MATCH("),
                    Message.body,
                    pw.SQL(") AGAINST ("),
                    pw.Value(expression),
                    pw.SQL(" IN BOOLEAN MODE)"),
                ),
                glue="",
            )
        )
    for term in terms:
        if len(term) < MYSQL_MIN_TOKEN_CHARS:
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(Message.body ** f"%{escaped}%")
    result = conditions[0]
    for condition in conditions[1:]:
        result = result & condition
    return result
