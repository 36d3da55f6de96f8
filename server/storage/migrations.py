"""Versioned schema migrations, recorded in the database.

Safe to run twice (applied versions are skipped) and from two nodes at once (a database
lock on MySQL, a file lock beside the SQLite file). Each migration must keep working for
the previous release too, so a gray rollout can run old and new nodes side by side.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import peewee as pw

from server.storage import fulltext, online_ddl
from server.storage.database import is_mysql
from server.storage.guard import cross_tenant
from server.storage.models import (
    ALL_MODELS,
    Attachment,
    AttachmentChunk,
    AuditLog,
    BackupRun,
    Bridge,
    BridgeLink,
    CannedReply,
    Conversation,
    ConversationLabel,
    EncryptionKeyUse,
    ExportJob,
    LinkCode,
    Operator,
    SchedulerLease,
    SchemaMigration,
    Site,
    TenantTokenKey,
    Visitor,
    VisitorPage,
)

log = logging.getLogger(__name__)

LOCK_TIMEOUT_SECS = 120
LOCK_POLL_SECS = 0.2
# A migration's DDL on a large MySQL table runs for minutes (the FULLTEXT build of
# migration 4 took 114 s on 1,000,000 messages); the node's 30 s read timeout is for queries.
MIGRATION_READ_TIMEOUT_SECS = 6 * 3600


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[pw.Database], None]


def _initial_schema(database: pw.Database) -> None:
    database.create_tables(ALL_MODELS, safe=True)


# Helpers for later migrations. A fresh database gets every table from the current models
# in migration 1, so each later step must be a no-op when its change is already there.


def add_missing_columns(database: pw.Database, model: type[pw.Model], *fields: pw.Field) -> None:
    """Add ``fields`` (attributes of ``model``) to its table unless they exist already."""
    from playhouse.migrate import MySQLMigrator, SqliteMigrator

    table = model._meta.table_name
    present = {column.name for column in database.get_columns(table)}
    migrator = MySQLMigrator(database) if is_mysql(database) else SqliteMigrator(database)
    for field in fields:
        if field.column_name in present:
            continue
        if is_mysql(database) and online_ddl.fits_one_statement(field):
            # One statement, INSTANT or INPLACE without a lock (docs/operations.md, "Online
            # migrations"); the default fills existing rows, as the migrator's UPDATE did.
            online_ddl.add_column(database, table, field)
        else:
            # add_column returns an Operation: it runs itself (and its steps) with run().
            migrator.add_column(table, field.column_name, field).run()


def add_missing_indexes(database: pw.Database, model: type[pw.Model]) -> None:
    """Create the indexes of ``model`` (fields and ``Meta.indexes``) that the table lacks."""
    present = {index.name for index in database.get_indexes(model._meta.table_name)}
    schema = model._schema  # type: ignore[attr-defined]  # peewee sets it on every model
    for index in model._meta.fields_to_index():
        if index._name in present:
            continue
        if is_mysql(database):
            online_ddl.create_index(database, model, index)  # INPLACE, LOCK=NONE
        else:
            database.execute(schema._create_index(index, safe=False))


def create_new_tables(database: pw.Database, *models: type[pw.Model]) -> None:
    database.create_tables(list(models), safe=True)


def _operators(database: pw.Database) -> None:
    create_new_tables(database, Operator)


def _agent_context(database: pw.Database) -> None:
    """Page trail, labels, scoped canned-reply shortcuts, message search (v4)."""
    create_new_tables(database, VisitorPage, ConversationLabel)
    add_missing_columns(database, CannedReply, CannedReply.scope_key, CannedReply.updated_at)
    CannedReply.update(scope_key=CannedReply.agent_id).where(
        CannedReply.agent_id.is_null(False), CannedReply.scope_key == ""
    ).execute()
    add_missing_indexes(database, CannedReply)
    fulltext.install(database)


def widen_varchar_columns(
    database: pw.Database, model: type[pw.Model], *fields: pw.CharField
) -> None:
    """Grow VARCHAR columns to their field's ``max_length`` (MySQL; SQLite ignores sizes)."""
    if not is_mysql(database):
        return
    table = model._meta.table_name
    for field in fields:
        cursor = database.execute_sql(
            "SELECT CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s",
            (table, field.column_name),
        )
        row = cursor.fetchone()
        if row and row[0] is not None and int(row[0]) < field.max_length:
            online_ddl.modify_varchar(
                database, table, field.column_name, field.max_length, field.null
            )


def _csat_and_sealing(database: pw.Database) -> None:
    add_missing_columns(
        database,
        Conversation,
        Conversation.rating,
        Conversation.rating_comment,
        Conversation.rated_at,
    )
    add_missing_columns(database, Site, Site.csat_enabled)
    add_missing_indexes(database, Conversation)  # (tenant_id, created_at) for reports
    create_new_tables(database, EncryptionKeyUse)
    # Sealed visitor details are envelopes, longer than the plain text.
    widen_varchar_columns(database, Visitor, Visitor.name, Visitor.email)


def _routing_columns(database: pw.Database) -> None:
    """Routing policies and offers, working hours, pre-chat form, offline conversations."""
    from server.storage.models import Agent, Conversation, Department, Site, Visitor

    add_missing_columns(
        database, Site, Site.hours, Site.welcome_message, Site.after_hours_message, Site.prechat
    )
    add_missing_columns(database, Department, Department.policy, Department.offer_timeout_secs)
    add_missing_columns(database, Agent, Agent.last_offered_ms)
    add_missing_columns(database, Visitor, Visitor.department_id)
    add_missing_columns(
        database,
        Conversation,
        Conversation.offered_to,
        Conversation.offered_at,
        Conversation.offer_deadline_ms,
        Conversation.offer_seq,
        Conversation.offers_tried,
        Conversation.offline,
    )
    add_missing_indexes(database, Conversation)


def _bridges(database: pw.Database) -> None:
    """Bridge principals, their links to agents, one-time link codes (new tables only)."""
    create_new_tables(database, Bridge, BridgeLink, LinkCode)


def _backups(database: pw.Database) -> None:
    """Backup runs and the scheduler lease, export jobs, imported visitor-token keys."""
    create_new_tables(database, TenantTokenKey, BackupRun, SchedulerLease, ExportJob)


def _secrets_at_rest(database: pw.Database) -> None:
    """Site and API secrets become sealed columns (wider: an envelope is longer than the
    secret), and the demo's plaintext passwords leave the database (``steadydesk demo``
    now derives them from the token-signing key and resets them on every run)."""
    from server.storage.models import ApiKey, Setting

    widen_varchar_columns(database, Site, Site.secret)
    widen_varchar_columns(database, ApiKey, ApiKey.secret)
    for row in Setting.select().where(Setting.key == "demo.credentials"):
        try:
            creds = json.loads(row.value)
        except ValueError:
            continue
        people = creds.get("people") if isinstance(creds, dict) else None
        if not isinstance(people, dict):
            continue
        for person in [people.get("admin"), *(people.get("agents") or [])]:
            if isinstance(person, dict):
                person.pop("password", None)
        if isinstance(creds.get("api"), dict):
            creds["api"].pop("secret", None)
        Setting.update(value=json.dumps(creds)).where(
            Setting.tenant_id == row.tenant_id, Setting.key == row.key
        ).execute()


def _audit_client(database: pw.Database) -> None:
    """Audit rows carry the actor's name as it was and the client's user agent (v11).
    Two added columns with constant defaults: instant on MariaDB 10.3+ and MySQL 8."""
    add_missing_columns(database, AuditLog, AuditLog.actor_name, AuditLog.user_agent)


def _ai_responder(database: pw.Database) -> None:
    """The AI robot (issue #20): a site's ``ai_mode``, a conversation held by a robot
    (``assignee_type``), hand-off records and knowledge-base articles. Added columns with
    constant defaults and new tables: old nodes keep working beside new ones."""
    from server.storage.models import AiHandoff, KnowledgeArticle

    add_missing_columns(database, Site, Site.ai_mode)
    add_missing_columns(database, Conversation, Conversation.assignee_type)
    create_new_tables(database, AiHandoff, KnowledgeArticle)


def datetimes_to_milliseconds(database: pw.Database) -> None:
    """MySQL/MariaDB: every ``DATETIME`` column of our tables becomes ``DATETIME(3)`` (one
    ALTER per table, keeping NULL/NOT NULL), so times keep the milliseconds the API shows.
    Old nodes keep working: they write whole seconds, and read the fraction as microseconds.
    SQLite stores the text peewee writes, fraction included, and needs nothing."""
    if not is_mysql(database):
        return
    tables = {model._meta.table_name for model in ALL_MODELS}
    cursor = database.execute_sql(
        "SELECT TABLE_NAME, COLUMN_NAME, IS_NULLABLE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND DATA_TYPE = 'datetime' "
        "AND COALESCE(DATETIME_PRECISION, 0) < 3 ORDER BY TABLE_NAME, ORDINAL_POSITION"
    )
    columns: dict[str, list[str]] = {}
    for table, column, nullable in cursor.fetchall():
        if table in tables:
            null = "NULL" if nullable == "YES" else "NOT NULL"
            columns.setdefault(table, []).append(f"MODIFY `{column}` DATETIME(3) {null}")
    for table, changes in columns.items():
        database.execute_sql(f"ALTER TABLE `{table}` {', '.join(changes)}")


def _ngram_search(database: pw.Database) -> None:
    """CJK text found by any substring: the n-gram index, built over existing messages."""
    fulltext.install_ngrams(database)


def _attachments(database: pw.Database) -> None:
    """Attachments (issue #19): their rows and, for the database store, their bytes."""
    create_new_tables(database, Attachment, AttachmentChunk)


def _labels_version(database: pw.Database) -> None:
    """A version for each conversation's labels (``conv.labels``). One added column with
    a constant default: instant on MariaDB; old nodes leave it as it is, and their label
    changes go out without a version, which clients apply as they come."""
    add_missing_columns(database, Conversation, Conversation.labels_version)


MIGRATIONS: list[Migration] = [
    Migration(1, "initial schema", _initial_schema),
    Migration(2, "platform operators", _operators),
    Migration(3, "routing: policies, offers, hours, pre-chat, offline", _routing_columns),
    Migration(4, "visitor context, labels, canned reply scopes, message search", _agent_context),
    Migration(5, "CSAT ratings, encryption key registry, wider sealed columns", _csat_and_sealing),
    Migration(6, "bridges: principals, links to agents, link codes", _bridges),
    Migration(7, "backups: runs, scheduler lease, export jobs, imported token keys", _backups),
    Migration(8, "site and API secrets sealed at rest, no demo passwords stored", _secrets_at_rest),
    Migration(9, "times to the millisecond (DATETIME(3) on MySQL)", datetimes_to_milliseconds),
    Migration(10, "message search: n-gram index for Chinese, Japanese and Korean", _ngram_search),
    Migration(11, "audit rows: the actor's name and the client's user agent", _audit_client),
    Migration(12, "AI responder: site mode, robot assignee, hand-offs, knowledge", _ai_responder),
    Migration(13, "attachments: files sent with messages, and their bytes", _attachments),
    Migration(14, "a version for each conversation's labels", _labels_version),
]

LATEST_VERSION = MIGRATIONS[-1].version


class MigrationLockBusy(Exception):
    """Another node kept this database's migration lock for longer than we would wait."""


@contextlib.contextmanager
def _migration_lock(database: pw.Database, wait_secs: float = LOCK_TIMEOUT_SECS) -> Iterator[None]:
    if is_mysql(database):
        # Named after the database: GET_LOCK names are server-wide, and other installs
        # (or test databases) on the same server must not wait for each other.
        name = f"steadydesk_migrate:{database.database}"[:64]
        cursor = database.execute_sql("SELECT GET_LOCK(%s, %s)", (name, wait_secs))
        if cursor.fetchone()[0] != 1:
            raise MigrationLockBusy(_busy(wait_secs, f"MySQL lock {name!r}"))
        try:
            yield
        finally:
            database.execute_sql("SELECT RELEASE_LOCK(%s)", (name,))
    else:
        lock_path = Path(str(database.database) + ".migrate.lock")
        with open(lock_path, "a") as fh:
            # Polled, not a blocking flock: a blocking one would wait for ever, a hang.
            deadline = time.monotonic() + wait_secs
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise MigrationLockBusy(_busy(wait_secs, f"file {lock_path}")) from None
                    time.sleep(LOCK_POLL_SECS)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _busy(wait_secs: float, lock: str) -> str:
    return (
        f"another process has been migrating this database for over {wait_secs:g} s "
        f"(it holds the {lock}); start again when it has finished, or raise "
        "STEADY_MIGRATION_WAIT_SECS"
    )


def applied_versions(database: pw.Database) -> set[int]:
    if not database.table_exists(SchemaMigration._meta.table_name):
        return set()
    return {row.version for row in SchemaMigration.select(SchemaMigration.version)}


def current_version(database: pw.Database) -> int:
    return max(applied_versions(database), default=0)


@contextlib.contextmanager
def _long_reads(database: pw.Database) -> Iterator[None]:
    """Let this connection wait for long DDL (MySQL), then restore its read timeout."""
    conn = database.connection() if is_mysql(database) else None
    # pymysql applies ``_read_timeout`` to the socket before each read; it has no public
    # setter, and a second pool with other settings would not hold the migration lock.
    before = getattr(conn, "_read_timeout", None)
    if conn is not None:
        conn._read_timeout = MIGRATION_READ_TIMEOUT_SECS
    try:
        yield
    finally:
        if conn is not None:
            conn._read_timeout = before


def migrate(database: pw.Database, wait_secs: float = LOCK_TIMEOUT_SECS) -> list[Migration]:
    """Apply every pending migration; returns what was applied. Waits ``wait_secs`` for
    another node's migration at most, then raises :class:`MigrationLockBusy`."""
    applied: list[Migration] = []
    with (
        database.connection_context(),
        cross_tenant(),
        _long_reads(database),
        _migration_lock(database, wait_secs),
    ):
        done = applied_versions(database)
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            log.info("applying migration %s: %s", migration.version, migration.name)
            migration.apply(database)
            SchemaMigration.insert(
                version=migration.version, name=migration.name
            ).on_conflict_ignore().execute()
            applied.append(migration)
    return applied
