"""Peak memory of ``steadydesk export`` (and ``backup``, ``restore``) for a tenant with many
messages.

Builds a throw-away install (SQLite, or a fresh MariaDB database), gives the demo tenant
``--messages`` messages over ``--conversations`` conversations with multi-row INSERTs (the
schema made by ``steadydesk demo``; this script never imports ``server``), then runs the
command as an operator would and reads the child's peak RSS from ``wait4``. Run it at two
sizes to see whether memory grows with the data:

    python bench/export_memory.py --messages 1000000
    python bench/export_memory.py --messages 100000 --spawn mysql --what export,backup,restore
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MYSQL_URL = os.environ.get("STEADY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
ROWS_PER_INSERT = 1000
BODY = "Hello, I have a question about my order number {n}: when will it ship? " * 2


def _env(data_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    env.update(
        STEADY_DATA_DIR=str(data_dir), STEADY_DATABASE_URL=database_url, PYTHONPATH=str(REPO_ROOT)
    )
    return env


def _run(env: dict[str, str], *args: str) -> tuple[str, float, int]:
    """Run ``python -m server ARGS``; (stdout, seconds, this child's peak RSS in KiB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", *args], cwd=REPO_ROOT, env=env, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)  # reaps it: its own rusage, not a max
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"`{' '.join(args)}` failed:\n{err.read().decode()[-3000:]}")
        return out.read().decode(), seconds, usage.ru_maxrss


class Writer:
    """Multi-row INSERTs into the install's database, straight through its driver."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.mysql = parts.scheme == "mysql"
        if self.mysql:
            import pymysql

            self.conn: Any = pymysql.connect(
                host=parts.hostname,
                port=parts.port or 3306,
                user=parts.username or "root",
                password=parts.password or "",
                database=parts.path.lstrip("/"),
                charset="utf8mb4",
            )
        else:
            self.conn = sqlite3.connect(parts.path[1:])
        self.p = "%s" if self.mysql else "?"

    def insert(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        one = "(" + ", ".join([self.p] * len(columns)) + ")"
        cursor = self.conn.cursor()
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start : start + ROWS_PER_INSERT]
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                + ", ".join([one] * len(chunk)),
                [value for row in chunk for value in row],
            )
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def fill(url: str, site_key: str, conversations: int, messages: int) -> float:
    """Add the conversations and messages to tenant ``default``; seconds taken."""
    started = time.perf_counter()
    writer = Writer(url)
    per_conv = max(1, messages // conversations)
    now = int(time.time() * 1000)
    try:
        for c in range(conversations):
            conv = f"bench{c:08d}" + secrets.token_hex(4)
            visitor = f"vis{c:08d}"
            writer.insert(
                "visitor",
                [
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
                ],
                [
                    (
                        visitor,
                        "default",
                        site_key,
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
                    )
                ],
            )
            writer.insert(
                "conversation",
                [
                    "id",
                    "tenant_id",
                    "site_id",
                    "visitor_id",
                    "status",
                    "last_seq",
                    "visitor_read_seq",
                    "agent_read_seq",
                    "created_at",
                    "offer_seq",
                    "offers_tried",
                    "offline",
                ],
                [
                    (
                        conv,
                        "default",
                        site_key,
                        visitor,
                        "closed",
                        per_conv,
                        0,
                        0,
                        "2026-01-01 00:00:00",
                        0,
                        "",
                        0,
                    )
                ],
            )
            writer.insert(
                "message",
                [
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
                ],
                [
                    (
                        "default",
                        conv,
                        n,
                        f"m{c:08d}{n:07d}",
                        "text",
                        "visitor" if n % 2 else "agent",
                        visitor,
                        "",
                        f"cid{n}",
                        BODY.format(n=n),
                        now + n,
                    )
                    for n in range(1, per_conv + 1)
                ],
            )
    finally:
        writer.close()
    return time.perf_counter() - started


def _mysql_database() -> tuple[str, str]:
    import pymysql

    name = "steadybench_" + secrets.token_hex(6)
    parts = urlsplit(DEFAULT_MYSQL_URL)
    conn = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
    )
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.close()
    return name, f"{DEFAULT_MYSQL_URL.rstrip('/')}/{name}"


def _drop_mysql(name: str) -> None:
    import pymysql

    parts = urlsplit(DEFAULT_MYSQL_URL)
    conn = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
    )
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--conversations", type=int, default=1_000)
    parser.add_argument("--spawn", choices=["sqlite", "mysql"], default="sqlite")
    parser.add_argument(
        "--what",
        default="export",
        help="comma-separated: export, backup, restore (of that backup, into scratch SQLite)",
    )
    parser.add_argument("--format", default="json", choices=["json", "csv", "sql"])
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="steadybench-export-"))
    mysql_name = None
    try:
        if args.spawn == "mysql":
            mysql_name, url = _mysql_database()
        else:
            url = f"sqlite:///{root / 'steadydesk.db'}"
        env = _env(root / "data", url)
        demo = json.loads(_run(env, "demo", "--json")[0])
        filled = fill(url, demo["site_key"], args.conversations, args.messages)
        print(
            f"{args.spawn}: {args.messages:,} messages in {args.conversations:,} "
            f"conversations written in {filled:.1f} s"
        )
        _, _, baseline = _run(env, "migrate")  # the process alone: imports, connection
        print(f"baseline (`steadydesk migrate`): peak RSS {baseline / 1024:6.1f} MiB")
        archive = ""
        for what in args.what.split(","):
            if what == "export":
                out = root / f"export.{args.format}"
                _, seconds, peak = _run(
                    env,
                    "export",
                    "--tenant",
                    "default",
                    "--format",
                    args.format,
                    "--decrypt",
                    "--out",
                    str(out),
                )
                size = out.stat().st_size
            elif what == "backup":
                made, seconds, peak = _run(env, "backup", "--json")
                size = json.loads(made)["size"]
                archive = json.loads(made)["archive"]
            else:  # restore the last backup into a scratch SQLite database
                target = root / "restored.db"
                _, seconds, peak = _run(
                    env, "restore", archive, "--into", f"sqlite:///{target}", "--json"
                )
                size = target.stat().st_size
            print(
                f"{what:7} {args.messages:>10,} messages: {seconds:6.1f} s, "
                f"peak RSS {peak / 1024:6.1f} MiB, output {size / 2**20:7.1f} MiB"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if mysql_name:
            _drop_mysql(mysql_name)


if __name__ == "__main__":
    main()
