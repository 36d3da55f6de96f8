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
from server.foundation import settings as tenant_settings
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


class HeldStore:
    """The real store, with each read held until the test lets it go: a change can then
    land while a load is in flight."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.release = asyncio.Event()

    async def run(self, fn, *args):  # type: ignore[no-untyped-def]
        result = await self._store.run(fn, *args)  # read now, answer when released
        await self.release.wait()
        return result


async def test_a_load_that_began_before_a_change_is_used_once_never_kept(store: Store) -> None:
    held = HeldStore(store)
    policies = MaskingPolicies(held, ttl_secs=60)  # type: ignore[arg-type]
    loading = asyncio.ensure_future(policies.policy("t5"))  # reads "off"
    await asyncio.sleep(0.1)
    set_masking(store.database, "t5", cards=True)  # the admin's change...
    policies.forget("t5")  # ...and its announcement, while the read is in flight
    held.release.set()
    assert await loading == MaskingPolicy()  # the send that asked: before the change
    assert policies.cached("t5") is None  # but not kept: the next send loads it again
    assert await policies.policy("t5") == MaskingPolicy(cards=True)
    assert policies.cached("t5") == MaskingPolicy(cards=True)


async def test_forget_all_drops_every_tenant(store: Store) -> None:
    policies = MaskingPolicies(store, ttl_secs=60)
    await policies.policy("t6")
    await policies.policy("t7")
    policies.forget_all()
    assert policies.cached("t6") is None and policies.cached("t7") is None


def test_the_settings_cache_never_keeps_a_read_a_change_overtook(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same rule for the limits' cache (``server/foundation/settings.py``)."""
    real_load = tenant_settings.load_settings

    def overtaken(tenant_id: str) -> tenant_settings.TenantSettings:
        value = real_load(tenant_id)
        tenant_settings.forget(tenant_id)  # a change announced while this read ran
        return value

    monkeypatch.setattr(tenant_settings, "load_settings", overtaken)
    with store.database.connection_context():
        tenant_settings.tenant_settings("t8")
        assert "t8" not in tenant_settings._cache
        monkeypatch.setattr(tenant_settings, "load_settings", real_load)
        tenant_settings.tenant_settings("t8")
        assert "t8" in tenant_settings._cache
        tenant_settings.forget_all()
        assert not tenant_settings._cache
