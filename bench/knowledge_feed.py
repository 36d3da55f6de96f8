"""What the AI robot's knowledge poll costs the server: ``robot_knowledge`` (the body of
``GET /api/v1/bridges/me/knowledge``) over a tenant's articles and team canned replies,
on SQLite or MariaDB. Every poll computes the version (a hash of the
content, read from ids and change times only), and the full answer only when the robot's
``If-None-Match`` is not that version (else 304); the robot polls every 30 s.

    python bench/knowledge_feed.py --articles 1000
    python bench/knowledge_feed.py --articles 1000 --backend mysql
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from server.admin.knowledge import robot_knowledge  # noqa: E402
from server.kernel.actors import Actor  # noqa: E402
from server.kernel.enums import SenderType  # noqa: E402
from server.storage.guard import TenantScope  # noqa: E402
from server.storage.migrations import migrate  # noqa: E402
from server.storage.models import CannedReply, KnowledgeArticle, Tenant  # noqa: E402
from tests.support.services import blank_database  # noqa: E402

TENANT = "bench"
BODY = ("Orders ship within two business days. 订单将在两个工作日内发货。" * 12)[:800]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--canned", type=int, default=50)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backend", choices=("sqlite", "mysql"), default="sqlite")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        blank_database(args.backend, Path(tmp) / "bench.db") as database,
    ):
        migrate(database)
        Tenant.create(id=TENANT, name="bench")
        scope = TenantScope(TENANT)
        with database.atomic():
            for n in range(args.articles):
                scope.create(
                    KnowledgeArticle,
                    id=f"a{n:025d}",
                    title=f"Article {n}",
                    body=BODY,
                    language="en",
                    tags=json.dumps(["shipping"]),
                )
            for n in range(args.canned):
                scope.create(
                    CannedReply,
                    id=f"c{n:025d}",
                    shortcut=f"reply{n}",
                    body="Thank you for waiting.",
                )
        robot = Actor(SenderType.BRIDGE, "robot", TENANT, "Aiko", role="ai")
        full, unchanged = [], []
        size, version = 0, None
        for _ in range(args.runs):
            started = time.perf_counter()
            found = robot_knowledge(robot)
            full.append(time.perf_counter() - started)
            assert found is not None
            size, version = len(json.dumps(found).encode()), found["version"]
            started = time.perf_counter()
            assert robot_knowledge(robot, version) is None
            unchanged.append(time.perf_counter() - started)
        print(
            f"{args.backend}: {args.articles} articles + {args.canned} canned replies, "
            f"{size / 1024:.0f} KiB: full answer median {statistics.median(full) * 1000:.1f} ms "
            f"(max {max(full) * 1000:.1f}), unchanged (304) median "
            f"{statistics.median(unchanged) * 1000:.1f} ms (max {max(unchanged) * 1000:.1f}) "
            f"over {args.runs} polls"
        )


if __name__ == "__main__":
    main()
