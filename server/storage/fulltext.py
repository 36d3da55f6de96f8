"""Full-text search over message bodies: FTS5 on SQLite, FULLTEXT on MySQL/MariaDB.

Words (Latin, Cyrillic, ... anything written with spaces between words) are matched as
word prefixes. Text in Chinese, Japanese or Korean (CJK: no spaces between words) is
matched as any substring of two or more characters, through an n-gram index:

* SQLite keeps two external-content FTS5 tables, rowid = the message's rowid, in sync
  with triggers (so the writer's multi-row insert stays one statement): ``message_fts``
  (``unicode61``, diacritics folded) for words and ``message_fts_ngram`` (``trigram``)
  for CJK runs of three or more characters. A trigram index cannot answer a two-character
  query, so a one- or two-character CJK term is matched with ``LIKE`` on the rows the
  other terms (and the tenant and filters) leave.
* MySQL/MariaDB: MariaDB (10.11 included) has no ``ngram`` full-text parser, MySQL's
  ``WITH PARSER ngram`` is refused there. Words keep ``message_body_fulltext`` on
  ``body``; for CJK the table carries a stored generated column, ``search_grams``: only
  the body's CJK runs, each written out as its overlapping bigrams, each prefixed with
  ``x`` so a token has the three characters InnoDB's ``innodb_ft_min_token_size``
  (default 3) needs ("我的订单 order" -> "x我的 x的订 x订单 单"), with a FULLTEXT index of
  its own. A CJK term of n >= 2 characters must have all its n-1 bigrams, and (n >= 3)
  ``LIKE`` checks on those candidates that they stand in a row. The database computes
  the column itself, so every writer (older releases during a rollout, restores,
  imports) keeps it right; a body without CJK text costs it one space. Words shorter
  than 3 characters, a single CJK character and characters beyond the Basic
  Multilingual Plane (InnoDB does not tokenise them) are matched with ``LIKE``.

User input never reaches either query language as syntax: it is split into words and CJK
runs, and each is quoted (FTS5) or stripped to letters and digits (MySQL boolean mode).
"""

from __future__ import annotations

import re
from typing import Any

import peewee as pw

from server.storage.database import is_mysql
from server.storage.models import Message

FTS_TABLE = "message_fts"
NGRAM_TABLE = "message_fts_ngram"
MYSQL_INDEX = "message_body_fulltext"
MYSQL_GRAMS_COLUMN = "search_grams"
MYSQL_GRAMS_INDEX = "message_grams_fulltext"
# Columns the database derives by itself: never copied by backups, never written.
GENERATED_COLUMNS = {"message": (MYSQL_GRAMS_COLUMN,)}
MYSQL_MIN_TOKEN_CHARS = 3  # InnoDB's innodb_ft_min_token_size default
NGRAM_CHARS = 3  # FTS5's trigram tokenizer
GRAM_PREFIX = "x"
MAX_TERMS = 8
TERM_MAX_CHARS = 64

# Letters of the scripts written without spaces between words (Basic Multilingual Plane
# only: InnoDB's tokenizer does not see the supplementary ideographs as letters). The
# same code points in Python and in MariaDB's PCRE, or the bigrams would not agree.
CJK_RANGES = (
    (0x3005, 0x3007),  # 々〆〇
    (0x3041, 0x3096),  # hiragana
    (0x309D, 0x309F),
    (0x30A1, 0x30FA),  # katakana
    (0x30FC, 0x30FF),  # ー and iteration marks
    (0x3400, 0x4DBF),  # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7A3),  # hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width katakana
)
_CJK_CLASS = "".join(f"{chr(low)}-{chr(high)}" for low, high in CJK_RANGES)
_TOKEN = re.compile(rf"[{_CJK_CLASS}]+|(?:(?![{_CJK_CLASS}])\w)+", re.UNICODE)
_CJK_RUN = re.compile(rf"[{_CJK_CLASS}]+")

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

_SQLITE_NGRAM_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {NGRAM_TABLE} USING fts5("
    "body, content='message', content_rowid='rowid', tokenize='trigram')",
    f"CREATE TRIGGER IF NOT EXISTS message_fts_ngram_ai AFTER INSERT ON message BEGIN "
    f"INSERT INTO {NGRAM_TABLE}(rowid, body) VALUES (new.rowid, new.body); END",
    f"CREATE TRIGGER IF NOT EXISTS message_fts_ngram_ad AFTER DELETE ON message BEGIN "
    f"INSERT INTO {NGRAM_TABLE}({NGRAM_TABLE}, rowid, body) "
    "VALUES ('delete', old.rowid, old.body); END",
    f"CREATE TRIGGER IF NOT EXISTS message_fts_ngram_au AFTER UPDATE OF body ON message BEGIN "
    f"INSERT INTO {NGRAM_TABLE}({NGRAM_TABLE}, rowid, body) "
    "VALUES ('delete', old.rowid, old.body); "
    f"INSERT INTO {NGRAM_TABLE}(rowid, body) VALUES (new.rowid, new.body); END",
)


def _pcre_class() -> str:
    return "".join(f"\\x{{{low:X}}}-\\x{{{high:X}}}" for low, high in CJK_RANGES)


def mysql_grams_expression() -> str:
    """SQL computing ``search_grams`` from ``body`` (see :func:`grams`): everything but
    CJK runs becomes a space, then every character that has a CJK neighbour to its
    right becomes `` x<it><neighbour> ``."""
    cjk = _pcre_class()
    runs = f"REGEXP_REPLACE(`body`, '[^{cjk}]+', ' ')"
    sql = f"REGEXP_REPLACE({runs}, '([{cjk}])(?=([{cjk}]))', ' {GRAM_PREFIX}\\\\1\\\\2 ')"
    return sql.replace("\\x", "\\\\x")


def grams(text: str) -> str:
    """What MariaDB stores in ``search_grams`` for ``text`` (the same rule in Python)."""
    spaced = re.sub(rf"[^{_CJK_CLASS}]+", " ", text)
    return re.sub(rf"([{_CJK_CLASS}])(?=([{_CJK_CLASS}]))", rf" {GRAM_PREFIX}\1\2 ", spaced)


def install(database: pw.Database) -> None:
    """Create the word index if it is missing (idempotent; indexes existing rows)."""
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
        database.execute_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


def install_ngrams(database: pw.Database) -> None:
    """Create the CJK n-gram index if it is missing, over the existing rows too
    (idempotent): the trigram table (SQLite) or the bigram column and its FULLTEXT
    index (MySQL/MariaDB; both statements rebuild the table, minutes for millions of
    messages)."""
    if is_mysql(database):
        columns = {column.name for column in database.get_columns("message")}
        # Neither can run with concurrent writes (a stored generated column copies the
        # table; InnoDB never builds a FULLTEXT index online): the statements say so. On
        # a large table build both beforehand with an online schema change tool; this
        # then finds them and skips (docs/agent-tools.md, "CJK text").
        if MYSQL_GRAMS_COLUMN not in columns:
            database.execute_sql(
                f"ALTER TABLE message ADD COLUMN {MYSQL_GRAMS_COLUMN} LONGTEXT "
                f"AS ({mysql_grams_expression()}) PERSISTENT, ALGORITHM=COPY, LOCK=SHARED"
            )
        present = {index.name for index in database.get_indexes("message")}
        if MYSQL_GRAMS_INDEX not in present:
            database.execute_sql("SET SESSION innodb_ft_enable_stopword = 0")
            database.execute_sql(
                f"ALTER TABLE message ADD FULLTEXT INDEX {MYSQL_GRAMS_INDEX} "
                f"({MYSQL_GRAMS_COLUMN}), ALGORITHM=INPLACE, LOCK=SHARED"
            )
        return
    # A table left without its triggers (the previous release's forced restore drops
    # ``message`` and so the triggers, not this table) missed every write since: rebuilt.
    kept = database.execute_sql(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?",
        ("message_fts_ngram_ai",),
    ).fetchone()[0]
    existed = NGRAM_TABLE in database.get_tables() and kept
    for statement in _SQLITE_NGRAM_DDL:
        database.execute_sql(statement)
    if not existed:
        database.execute_sql(f"INSERT INTO {NGRAM_TABLE}({NGRAM_TABLE}) VALUES ('rebuild')")


def index_tables(database: pw.Database) -> list[str]:
    """The SQLite FTS5 tables present (to drop or rebuild)."""
    present = set(database.get_tables())
    return [name for name in (FTS_TABLE, NGRAM_TABLE) if name in present]


def rebuild(database: pw.Database) -> None:
    """Re-index every message (SQLite): after anything that may renumber ``message``'s
    rowids behind the triggers' back, such as restoring a file made by ``VACUUM INTO``."""
    if not is_mysql(database):
        for table in index_tables(database):
            database.execute_sql(f"INSERT INTO {table}({table}) VALUES ('rebuild')")


def is_cjk(term: str) -> bool:
    return bool(_CJK_RUN.fullmatch(term))


def search_terms(query: str) -> list[str]:
    """The words and CJK runs of a user's query, lower-cased, deduplicated, bounded."""
    terms: list[str] = []
    for word in _TOKEN.findall(query.lower()):
        word = word[:TERM_MAX_CHARS]
        if word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


def match_condition(database: pw.Database, terms: list[str]) -> Any:
    """A WHERE condition on ``Message`` that holds when the body has every term (a word
    as a word prefix, a CJK run anywhere)."""
    if is_mysql(database):
        return _mysql_condition(terms)
    rowid = pw.NodeList((Message._meta.table, pw.SQL(".rowid")), glue="")
    conditions: list[Any] = []
    words = [t for t in terms if not is_cjk(t)]
    grams = [t for t in terms if is_cjk(t) and len(t) >= NGRAM_CHARS]
    for table, expression in (
        (FTS_TABLE, " ".join(_fts_quote(t) + "*" for t in words)),
        (NGRAM_TABLE, " ".join(_fts_quote(t) for t in grams)),
    ):
        if expression:
            conditions.append(
                rowid.in_(
                    pw.NodeList(
                        (
                            pw.SQL(f"SELECT rowid FROM {table} WHERE {table} MATCH"),
                            pw.Value(expression),
                        ),
                        parens=True,
                    )
                )
            )
    for term in terms:
        if is_cjk(term) and len(term) < NGRAM_CHARS:
            conditions.append(Message.body.contains(term))  # no % or _ in a CJK run
    return _all_of(conditions)


def _fts_quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _mysql_condition(terms: list[str]) -> Any:
    words: list[str] = []
    grams: list[str] = []
    like: list[str] = []
    for term in terms:
        if any(ord(ch) > 0xFFFF for ch in term):
            like.append(term)
        elif is_cjk(term):
            if len(term) == 1:
                like.append(term)
                continue
            grams.extend(f"+{GRAM_PREFIX}{term[i : i + 2]}" for i in range(len(term) - 1))
            if len(term) > 2:
                like.append(term)  # the bigrams in a row, not scattered
        elif len(term) >= MYSQL_MIN_TOKEN_CHARS:
            words.append(f"+{term}*")
        else:
            like.append(term)
    conditions: list[Any] = []
    for column, tokens in (("body", words), (MYSQL_GRAMS_COLUMN, grams)):
        if tokens:
            conditions.append(
                pw.NodeList(
                    (
                        pw.SQL("MATCH("),
                        pw.NodeList((Message._meta.table, pw.SQL(f".{column}")), glue=""),
                        pw.SQL(") AGAINST ("),
                        pw.Value(" ".join(dict.fromkeys(tokens))),
                        pw.SQL(" IN BOOLEAN MODE)"),
                    ),
                    glue="",
                )
            )
    for term in like:
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Message.body ** f"%{escaped}%")
    return _all_of(conditions)


def _all_of(conditions: list[Any]) -> Any:
    result = conditions[0]
    for condition in conditions[1:]:
        result = result & condition
    return result
