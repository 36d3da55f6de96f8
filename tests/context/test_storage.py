"""Migration 4 upgrades an existing database (search index over old messages, canned
reply scopes backfilled) and the page trail keeps only the newest views."""

from __future__ import annotations

import time

import peewee as pw

from server.chat.pages import PAGES_KEPT, PageView, record_page
from server.kernel.actors import Actor
from server.kernel.enums import SenderType
from server.storage import fulltext
from server.storage.database import is_mysql
from server.storage.guard import TenantScope
from server.storage.migrations import current_version, migrate
from server.storage.models import CannedReply, Message, VisitorPage
from tests.storage.conftest import database  # noqa: F401  (the migrated-database fixture)


def _downgrade_to_v3(database: pw.Database) -> None:  # noqa: F811
    """Undo what migration 4 adds, as a database of the previous release looks (and
    migration 10's n-gram index, which a version 3 database never had)."""
    _drop_ngram_index(database)
    if is_mysql(database):
        database.execute_sql(f"ALTER TABLE message DROP INDEX {fulltext.MYSQL_INDEX}")
        # Rebuilt, so InnoDB's hidden FTS_DOC_ID column goes too: a table that never had
        # a FULLTEXT index (re-adding one to a table that keeps it misses old rows).
        database.execute_sql("ALTER TABLE message ENGINE=InnoDB")
    else:
        for trigger in ("message_fts_ai", "message_fts_ad", "message_fts_au"):
            database.execute_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        database.execute_sql(f"DROP TABLE IF EXISTS {fulltext.FTS_TABLE}")
    database.execute_sql("DROP TABLE visitor_page")
    database.execute_sql("DROP TABLE conversation_label")
    for index in database.get_indexes("canned_reply"):
        if "scope_key" in index.columns:
            on = " ON canned_reply" if is_mysql(database) else ""
            database.execute_sql(f"DROP INDEX {index.name}{on}")
    database.execute_sql("ALTER TABLE canned_reply DROP COLUMN scope_key")
    database.execute_sql("ALTER TABLE canned_reply DROP COLUMN updated_at")
    database.execute_sql("DELETE FROM schema_migration WHERE version = 4")


def test_migration_4_upgrades_an_existing_database(database: pw.Database) -> None:  # noqa: F811
    _downgrade_to_v3(database)
    p = "%s" if is_mysql(database) else "?"
    now_ms = int(time.time() * 1000)
    database.execute_sql(
        "INSERT INTO message (tenant_id, conversation_id, seq, id, kind, sender_type, sender_id,"
        f" sender_name, cid, body, created_ms) VALUES ({', '.join([p] * 11)})",
        ("t-up", "c-up", 1, "m-up", "text", "visitor", "v", "", "cid-up",
         "an old message about invoices", now_ms),
    )
    database.execute_sql(
        f"INSERT INTO canned_reply (id, tenant_id, agent_id, shortcut, body, created_at)"
        f" VALUES ({p}, {p}, {p}, {p}, {p}, CURRENT_TIMESTAMP)",
        ("cr-up", "t-up", "agent-up", "hi", "Hello"),
    )
    applied = migrate(database)
    assert [m.version for m in applied] == [4, 10]
    assert migrate(database) == []
    assert current_version(database) >= 4
    scope = TenantScope("t-up")
    hits = scope.select(Message, Message.id).where(
        fulltext.match_condition(database, ["invoices"])
    )
    assert [row.id for row in hits] == ["m-up"]
    reply = scope.get_or_none(CannedReply, CannedReply.id == "cr-up")
    assert reply is not None and reply.scope_key == "agent-up"
    assert scope.select(VisitorPage).count() == 0
    unique = [i for i in database.get_indexes("canned_reply") if "scope_key" in i.columns]
    assert [i.unique for i in unique] == [True]


def _drop_ngram_index(database: pw.Database) -> None:  # noqa: F811
    """Undo what migration 10 adds, as a database of the previous release looks. On
    SQLite the trigram table stays, without its triggers: what the previous release's
    forced restore leaves (it drops ``message``, and with it the triggers, not the
    table), the worse case: the table misses the rows written since."""
    if is_mysql(database):
        database.execute_sql(f"ALTER TABLE message DROP INDEX {fulltext.MYSQL_GRAMS_INDEX}")
        database.execute_sql(f"ALTER TABLE message DROP COLUMN {fulltext.MYSQL_GRAMS_COLUMN}")
    else:
        for trigger in ("message_fts_ngram_ai", "message_fts_ngram_ad", "message_fts_ngram_au"):
            database.execute_sql(f"DROP TRIGGER IF EXISTS {trigger}")
    database.execute_sql("DELETE FROM schema_migration WHERE version = 10")


def test_migration_10_finds_cjk_substrings_in_existing_messages(
    database: pw.Database,  # noqa: F811
) -> None:
    _drop_ngram_index(database)
    p = "%s" if is_mysql(database) else "?"
    now_ms = int(time.time() * 1000)
    bodies = {"m-zh": "我的订单还没有到，请帮忙查一下物流", "m-ja": "東京駅でカードを落としました"}  # noqa: RUF001
    for seq, (message_id, body) in enumerate(bodies.items(), start=1):
        database.execute_sql(
            "INSERT INTO message (tenant_id, conversation_id, seq, id, kind, sender_type,"
            f" sender_id, sender_name, cid, body, created_ms) VALUES ({', '.join([p] * 11)})",
            ("t-ngram", "c-ngram", seq, message_id, "text", "visitor", "v", "", f"cid-{seq}",
             body, now_ms),
        )
    applied = migrate(database)
    assert [m.version for m in applied] == [10]
    assert migrate(database) == []
    scope = TenantScope("t-ngram")

    def hits(query: str) -> list[str]:
        terms = fulltext.search_terms(query)
        condition = fulltext.match_condition(database, terms)
        return sorted(row.id for row in scope.select(Message, Message.id).where(condition))

    for query in ("订单", "没有到", "查一下物流", "カード", "駅で", "落としま"):
        assert hits(query) == [bodies_id for bodies_id, body in bodies.items()
                               if query in body], query
    assert hits("订单 カード") == []
    if is_mysql(database):  # the column holds what fulltext.grams says, CJK bigrams only
        stored = dict(database.execute_sql(
            f"SELECT id, {fulltext.MYSQL_GRAMS_COLUMN} FROM message WHERE tenant_id = %s",
            ("t-ngram",)).fetchall())
        assert stored == {key: fulltext.grams(body) for key, body in bodies.items()}
        assert "x订单" in stored["m-zh"].split() and "物流" not in stored["m-zh"].split()
    # New and edited messages are indexed by the database itself (triggers, generated column).
    scope.update(Message, body="新的内容：退款已经批准").where(Message.id == "m-zh").execute()  # noqa: RUF001
    assert hits("退款") == ["m-zh"] and hits("订单") == []


def test_the_trail_keeps_the_newest_views(database: pw.Database) -> None:  # noqa: F811
    visitor = Actor(SenderType.VISITOR, "v-trail", "t-trail", site_id="s")
    for i in range(PAGES_KEPT + 5):
        event, topic = record_page(visitor, PageView(f"https://x.example/{i}", f"p{i}", ""))
        assert topic is None  # no open conversation: stored, told to nobody
    rows = (
        TenantScope("t-trail")
        .select(VisitorPage)
        .where(VisitorPage.visitor_id == "v-trail")
        .order_by(VisitorPage.id)
    )
    urls = [row.url for row in rows]
    assert len(urls) == PAGES_KEPT
    assert urls[0] == "https://x.example/5" and urls[-1] == f"https://x.example/{PAGES_KEPT + 4}"
    assert event["data"]["url"] == f"https://x.example/{PAGES_KEPT + 4}"
