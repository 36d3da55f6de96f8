"""The transaction of an admin write.

Admin writes read, check, then write (the last-admin rule, renames, merges of settings).
On SQLite a deferred transaction that read before another writer committed cannot
upgrade to a write (SQLITE_BUSY_SNAPSHOT, no waiting), so these take the write lock up
front (``BEGIN IMMEDIATE``) and queue behind each other instead. MySQL locks rows itself.
"""

from __future__ import annotations

from typing import Any

from server.storage.database import db, is_mysql
from server.storage.models import Tenant


def admin_transaction() -> Any:
    return db.atomic() if is_mysql() else db.atomic("IMMEDIATE")


def lock_tenant(tenant_id: str) -> None:
    """Queue this transaction behind the tenant's other read-merge-write admin writes (call
    first thing inside the transaction). On MySQL two first writes of a row each see it
    missing and both insert (duplicate key, deadlock), and two merges lose one change;
    locking the tenant's row serialises them, and the reads after it see the last commit.
    SQLite's ``BEGIN IMMEDIATE`` serialises every writer already."""
    if is_mysql():
        list(Tenant.select(Tenant.id).where(Tenant.id == tenant_id).for_update())
