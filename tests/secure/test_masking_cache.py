"""The per-tenant masking cache: loaded once, then served at once and refreshed in the
background, against a real database (no server needed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import peewee as pw
import pytest

from server.chat.masking import MaskingPolicies
from server.security.masking import MaskingPolicy
from server.storage.database import Store, db, make_database
from server.storage.guard import TenantScope
from server.storage.migrations import migrate
from server.storage.models import Setting


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    database = make_database(f"sqlite:///{tmp_path / 'steady.db'}", max_connections=4)
    db.initialize(database)
    migrate(database)
    runner = Store(database, 2)
    try:
        yield runner
    finally:
        runner.close()


def set_masking(database: pw.Database, tenant: str, **flags: bool) -> None:
    with database.connection_context():
        scope = TenantScope(tenant)
        scope.delete(Setting).where(Setting.key == "masking").execute()
        scope.create(Setting, key="masking", value=json.dumps(flags))


async def test_loaded_once_then_refreshed_in_the_background(store: Store) -> None:
    policies = MaskingPolicies(store, ttl_secs=0.2)
    assert policies.cached("t1") is None  # never loaded: the send path takes the slow road
    assert await policies.policy("t1") == MaskingPolicy()  # unset: nothing masked
    set_masking(store.database, "t1", cards=True)
    assert policies.cached("t1") == MaskingPolicy()  # still fresh: no query
    await asyncio.sleep(0.25)
    assert policies.cached("t1") == MaskingPolicy()  # stale: served at once, refreshing
    for _ in range(50):
        await asyncio.sleep(0.02)
        if policies.cached("t1") == MaskingPolicy(cards=True):
            break
    assert policies.cached("t1") == MaskingPolicy(cards=True)
    assert await policies.policy("t2") == MaskingPolicy()  # per tenant
    policies.forget("t1")
    assert policies.cached("t1") is None


async def test_a_broken_setting_masks_nothing(store: Store) -> None:
    with store.database.connection_context():
        TenantScope("t3").create(Setting, key="masking", value="{not json")
    assert await MaskingPolicies(store).policy("t3") == MaskingPolicy()


async def test_a_policy_long_out_of_date_is_loaded_before_use(store: Store) -> None:
    # Stale by a little: served at once while it refreshes. Stale by a lot (the tenant was
    # quiet): the send must not go out under a policy an admin changed long ago.
    policies = MaskingPolicies(store, ttl_secs=0.2)
    assert await policies.policy("t4") == MaskingPolicy()
    set_masking(store.database, "t4", cards=True)
    await asyncio.sleep(0.5)
    assert policies.cached("t4") is None
    assert await policies.policy("t4") == MaskingPolicy(cards=True)
