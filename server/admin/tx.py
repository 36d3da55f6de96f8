"""The transaction of an admin write.

Admin writes read, check, then write (the last-admin rule, renames, merges of settings).
On SQLite a deferred transaction that read before another writer committed cannot
upgrade to a write (SQLITE_BUSY_SNAPSHOT, no waiting), so these take the write lock up
front (``BEGIN IMMEDIATE``) and queue behind each other instead. MySQL locks rows itself.
"""

from __future__ import annotations

from typing import Any

from server.storage.database import db, is_mysql


def admin_transaction() -> Any:
    return db.atomic() if is_mysql() else db.atomic("IMMEDIATE")
