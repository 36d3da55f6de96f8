"""What the CJK n-gram index (migration 10) costs and buys: insert CPU per message with
and without it, and search times over a tenant's messages, on SQLite or MariaDB.

Two fresh databases get the current schema; in one the n-gram index is taken out again
(as before migration 10). Both get the same ``--rows`` messages (half Chinese or
Japanese, half English; multi-row ``executemany`` of 50 rows per transaction, as the
writer does), then a few searches run through ``server.storage.fulltext`` (counting every
hit: the search route sorts them all by time before it keeps 20). "火车" is in no message
(a short term's LIKE reads every row of the tenant):

    python bench/search_index.py --rows 20000
    python bench/search_index.py --rows 20000 --backend mysql
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from server.storage import fulltext  # noqa: E402
from server.storage.database import is_mysql  # noqa: E402
from server.storage.guard import TenantScope  # noqa: E402
from server.storage.migrations import migrate  # noqa: E402
from server.storage.models import Message  # noqa: E402
from tests.support.services import blank_database  # noqa: E402

BATCH = 50
ZH = "我的订单还没有到请帮忙查一下物流信息谢谢你们的服务退款已经批准了"
JA = "東京駅でカードを落としましたコーヒーを注文したいのですが配達はいつですか"
EN = [
    "hello",
    "I",
    "have",
    "a",
    "question",
    "about",
    "my",
    "order",
    "number",
    "when",
    "will",
    "it",
    "ship",
    "thanks",
]


def bodies(rows: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for n in range(rows):
        if n % 2:
            source = ZH if n % 4 == 1 else JA
            start = rng.randrange(len(source) - 20)
            out.append(source[start : start + 20] + f" {n}")
        else:
            out.append(" ".join(rng.choice(EN) for _ in range(15)) + f" {n}")
    return out


def drop_ngrams(database) -> None:  # type: ignore[no-untyped-def]
    if is_mysql(database):
        database.execute_sql(f"ALTER TABLE message DROP INDEX {fulltext.MYSQL_GRAMS_INDEX}")
        database.execute_sql(f"ALTER TABLE message DROP COLUMN {fulltext.MYSQL_GRAMS_COLUMN}")
    else:
        for trigger in ("message_fts_ngram_ai", "message_fts_ngram_ad", "message_fts_ngram_au"):
            database.execute_sql(f"DROP TRIGGER {trigger}")
        database.execute_sql(f"DROP TABLE {fulltext.NGRAM_TABLE}")


def run(backend: str, rows: int, with_ngrams: bool) -> dict[str, float]:
    texts = bodies(rows)
    with (
        tempfile.TemporaryDirectory() as tmp,
        blank_database(backend, Path(tmp) / "bench.db") as database,
    ):
        migrate(database)
        if not with_ngrams:
            drop_ngrams(database)
        p = "%s" if is_mysql(database) else "?"
        sql = (
            "INSERT INTO message (tenant_id, conversation_id, seq, id, kind, sender_type,"
            f" sender_id, sender_name, cid, body, created_ms) VALUES ({', '.join([p] * 11)})"
        )
        cpu, wall = time.process_time(), time.perf_counter()
        for first in range(0, rows, BATCH):
            batch = [
                (
                    "t-bench",
                    f"c{n // 20}",
                    n % 20 + 1,
                    f"m{n}",
                    "text",
                    "visitor",
                    "v",
                    "",
                    f"cid{n}",
                    texts[n],
                    1_700_000_000_000 + n,
                )
                for n in range(first, min(first + BATCH, rows))
            ]
            with database.atomic():
                database.cursor().executemany(sql, batch)
        result = {
            "insert_cpu_us_per_row": (time.process_time() - cpu) / rows * 1e6,
            "insert_wall_us_per_row": (time.perf_counter() - wall) / rows * 1e6,
        }
        if with_ngrams:
            scope = TenantScope("t-bench")
            queries = ("订单", "火车", "查一下物流", "カード", "コーヒーを注文", "question order")
            for query in queries:
                terms = fulltext.search_terms(query)
                started = time.perf_counter()
                found = (
                    scope.select(Message, Message.id)
                    .where(fulltext.match_condition(database, terms))
                    .count()
                )
                result[f"search {query!r} ms ({found} hits)"] = (
                    time.perf_counter() - started
                ) * 1e3
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--backend", choices=("sqlite", "mysql"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    for _ in range(args.repeat):
        for with_ngrams in (False, True):
            figures = run(args.backend, args.rows, with_ngrams)
            label = "with n-grams" if with_ngrams else "without"
            print(label, {k: round(v, 1) for k, v in figures.items()}, flush=True)


if __name__ == "__main__":
    main()
