"""How long each schema migration takes on MariaDB/MySQL with a large ``message`` table,
and how long writes stall meanwhile (issue #21, item 8).

Builds a scratch database (dropped afterwards), brings it to schema 1 (the current
models, then every later migration's additions taken off again, so each has its real
work to do, a first FULLTEXT index included), fills it with ``--messages`` messages over
``--conversations`` conversations (one visitor each), then applies migrations 2, 3, ...
one at a time, timing each, while a writer on its own connection keeps inserting a
message (and every tenth time a conversation) in autocommit. For each migration it
prints the seconds taken, the writes done meanwhile and the longest single write.

    python bench/migrations.py                       # 1,000,000 messages (about 10 min)
    python bench/migrations.py --messages 100000 --conversations 10000

Figures are in docs/operations.md ("Online migrations on MySQL/MariaDB").
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.storage.database import db, make_database
from server.storage.guard import cross_tenant
from server.storage.migrations import MIGRATIONS, migrate
from server.storage.models import SchemaMigration

DEFAULT_MYSQL_URL = os.environ.get("STEADY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
ROWS_PER_INSERT = 1000
BODY = "Hello, I have a question about my order number {n}: when will it ship? Thanks"

# What migrations 2.. add, taken off again (newest first) to get back to schema 1.
UNDO: dict[int, list[str]] = {
    14: ["ALTER TABLE conversation DROP COLUMN labels_version"],
    11: ["ALTER TABLE audit_log DROP COLUMN actor_name, DROP COLUMN user_agent"],
    10: ["ALTER TABLE message DROP INDEX message_grams_fulltext, DROP COLUMN search_grams"],
    9: [],  # DATETIME(3) back to DATETIME: see _undo_milliseconds
    8: [
        "ALTER TABLE site MODIFY secret VARCHAR(64) NOT NULL",
        "ALTER TABLE api_key MODIFY secret VARCHAR(64) NOT NULL",
    ],
    7: ["DROP TABLE tenant_token_key, backup_run, scheduler_lease, export_job"],
    6: ["DROP TABLE bridge_link, link_code, bridge"],
    5: [
        "ALTER TABLE conversation DROP INDEX conversation_tenant_id_created_at, "
        "DROP COLUMN rating, DROP COLUMN rating_comment, DROP COLUMN rated_at",
        "ALTER TABLE site DROP COLUMN csat_enabled",
        "DROP TABLE encryption_key_use",
        "ALTER TABLE visitor MODIFY name VARCHAR(200) NOT NULL, MODIFY email VARCHAR(254) NOT NULL",
    ],
    4: [
        "DROP TABLE visitor_page, conversation_label",
        "ALTER TABLE canned_reply DROP INDEX canned_reply_tenant_id_scope_key_shortcut, "
        "DROP COLUMN scope_key, DROP COLUMN updated_at",
        "ALTER TABLE message DROP INDEX message_body_fulltext",
        # The hidden FTS_DOC_ID column goes only with a copy: the next FULLTEXT index is
        # then a first one again, as it was on an install that never had one.
        "ALTER TABLE message ENGINE=InnoDB, ALGORITHM=COPY",
    ],
    3: [
        "ALTER TABLE site DROP COLUMN hours, DROP COLUMN welcome_message, "
        "DROP COLUMN after_hours_message, DROP COLUMN prechat",
        "ALTER TABLE department DROP COLUMN policy, DROP COLUMN offer_timeout_secs",
        "ALTER TABLE agent DROP COLUMN last_offered_ms",
        "ALTER TABLE visitor DROP COLUMN department_id",
        "ALTER TABLE conversation DROP INDEX conversation_offer_deadline_ms, "
        "DROP COLUMN offered_to, DROP COLUMN offered_at, DROP COLUMN offer_deadline_ms, "
        "DROP COLUMN offer_seq, DROP COLUMN offers_tried, DROP COLUMN offline",
    ],
    2: ["DROP TABLE operator"],
}


def _undo_milliseconds(cursor: Any) -> None:
    """Migration 9's work taken off: every DATETIME(3) column of the schema back to
    whole seconds, keeping NULL/NOT NULL."""
    cursor.execute(
        "SELECT TABLE_NAME, COLUMN_NAME, IS_NULLABLE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND DATA_TYPE = 'datetime' AND DATETIME_PRECISION > 0"
    )
    changes: dict[str, list[str]] = {}
    for table, column, nullable in cursor.fetchall():
        null = "NULL" if nullable == "YES" else "NOT NULL"
        changes.setdefault(table, []).append(f"MODIFY `{column}` DATETIME {null}")
    for table, modify in changes.items():
        cursor.execute(f"ALTER TABLE `{table}` {', '.join(modify)}")


def _server_conn(database: str | None = None) -> Any:
    parts = urlsplit(DEFAULT_MYSQL_URL)
    return pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=database,
        charset="utf8mb4",
        autocommit=True,
    )


def _insert(cursor: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([one] * len(chunk)),
            [value for row in chunk for value in row],
        )


VISITOR_COLUMNS = [
    "id",
    "tenant_id",
    "site_id",
    "name",
    "email",
    "language",
    "ip",
    "user_agent",
    "referrer",
    "page_url",
    "visit_count",
    "created_at",
    "last_seen_at",
]
CONV_COLUMNS = [
    "id",
    "tenant_id",
    "site_id",
    "visitor_id",
    "status",
    "last_seq",
    "visitor_read_seq",
    "agent_read_seq",
    "created_at",
]
MESSAGE_COLUMNS = [
    "tenant_id",
    "conversation_id",
    "seq",
    "id",
    "kind",
    "sender_type",
    "sender_id",
    "sender_name",
    "cid",
    "body",
    "created_ms",
]


def _conv_rows(prefix: str, c: int) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    visitor = f"{prefix}v{c:09d}"
    return (
        (
            visitor,
            "bench",
            "site",
            f"Visitor {c}",
            f"v{c}@example.com",
            "en",
            "127.0.0.1",
            "bench",
            "",
            "",
            1,
            "2026-01-01 00:00:00",
            "2026-01-01 00:00:00",
        ),
        (f"{prefix}c{c:09d}", "bench", "site", visitor, "closed", 0, 0, 0, "2026-01-01 00:00:00"),
    )


def fill(conn: Any, conversations: int, messages: int) -> float:
    started = time.perf_counter()
    per_conv = max(1, messages // conversations)
    now = int(time.time() * 1000)
    cursor = conn.cursor()
    batch = max(1, ROWS_PER_INSERT // per_conv)
    for first in range(0, conversations, batch):
        convs = range(first, min(conversations, first + batch))
        pairs = [_conv_rows("f", c) for c in convs]
        _insert(cursor, "visitor", VISITOR_COLUMNS, [p[0] for p in pairs])
        _insert(cursor, "conversation", CONV_COLUMNS, [p[1] for p in pairs])
        _insert(
            cursor,
            "message",
            MESSAGE_COLUMNS,
            [
                (
                    "bench",
                    f"fc{c:09d}",
                    n,
                    f"fm{c:09d}{n:06d}",
                    "text",
                    "visitor" if n % 2 else "agent",
                    f"fv{c:09d}",
                    "",
                    f"cid{n}",
                    BODY.format(n=n + c),
                    now + n,
                )
                for c in convs
                for n in range(1, per_conv + 1)
            ],
        )
        if first % (batch * 100) == 0:
            print(f"  filled {first * per_conv:,} messages", file=sys.stderr, flush=True)
    return time.perf_counter() - started


class Writer(threading.Thread):
    """Keeps inserting, one row per autocommit statement, recording each one's latency."""

    def __init__(self, database: str, first: int):
        super().__init__(daemon=True)
        self.conn = _server_conn(database)
        self.stop = threading.Event()
        self.window: list[tuple[float, float]] = []  # (end time, seconds)
        self.count = first  # rows of earlier writers keep their ids
        self.error: BaseException | None = None

    def run(self) -> None:
        cursor = self.conn.cursor()
        try:
            while not self.stop.is_set():
                self.count += 1
                c = self.count
                started = time.perf_counter()
                if c % 10 == 1:
                    visitor, conv = _conv_rows("w", c)
                    _insert(cursor, "visitor", VISITOR_COLUMNS, [visitor])
                    _insert(cursor, "conversation", CONV_COLUMNS, [conv])
                _insert(
                    cursor,
                    "message",
                    MESSAGE_COLUMNS,
                    [
                        (
                            "bench",
                            f"wc{(c // 10) * 10 + 1:09d}",
                            c,
                            f"wm{c:015d}",
                            "text",
                            "visitor",
                            "w",
                            "",
                            f"cid{c}",
                            BODY.format(n=c),
                            int(time.time() * 1000),
                        )
                    ],
                )
                ended = time.perf_counter()
                self.window.append((ended, ended - started))
        except BaseException as err:  # reported by the main thread
            self.error = err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    name = "steadybench_mig_" + secrets.token_hex(4)
    admin = _server_conn()
    admin.cursor().execute(
        f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    )
    # Long DDL must not meet the node's default 30 s read timeout.
    database = make_database(f"{DEFAULT_MYSQL_URL.rstrip('/')}/{name}?read_timeout=7200")
    db.initialize(database)
    try:
        migrate(database)
        conn = _server_conn(name)
        cursor = conn.cursor()
        for version in sorted(UNDO, reverse=True):
            for statement in UNDO[version]:
                cursor.execute(statement)
            if version == 9:
                _undo_milliseconds(cursor)
        cursor.execute("DELETE FROM schema_migration WHERE version > 1")
        print(
            f"filling {args.messages:,} messages in {args.conversations:,} conversations",
            file=sys.stderr,
        )
        seconds = fill(conn, args.conversations, args.messages)
        print(f"filled in {seconds:.0f} s", file=sys.stderr)
        rows = []
        written = 0
        for migration in MIGRATIONS[1:]:
            writer = Writer(name, written + 10 - written % 10)
            writer.start()
            time.sleep(1.0)  # the writer's pace before the change
            before = len(writer.window)
            started = time.perf_counter()
            with database.connection_context(), cross_tenant():
                migration.apply(database)
                SchemaMigration.insert(version=migration.version, name=migration.name).execute()
            ended = time.perf_counter()
            time.sleep(0.5)
            writer.stop.set()
            writer.join(30)
            if writer.error:
                raise SystemExit(f"the writer failed during {migration.version}: {writer.error}")
            during = [s for end, s in writer.window[before:] if started <= end <= ended + 0.5]
            done = sum(1 for end, _ in writer.window[before:] if started <= end <= ended)
            stall = max(during, default=0.0)
            rows.append((migration.version, migration.name, ended - started, done, stall))
            writer.conn.close()
            written = writer.count
            print(f"  {migration.version}: {ended - started:.2f} s", file=sys.stderr, flush=True)
        version = cursor.connection.get_server_info()
        print(
            f"\n{args.messages:,} messages, {args.conversations:,} conversations, "
            f"server {version}\n"
        )
        print("| migration | seconds | writes during it | longest write (s) |")
        print("| --- | ---: | ---: | ---: |")
        for number, label, took, done, stall in rows:
            print(f"| {number} {label} | {took:.2f} | {done} | {stall:.3f} |")
        conn.close()
    finally:
        database.close_all()
        if not args.keep:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


if __name__ == "__main__":
    main()
