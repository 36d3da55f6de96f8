"""Each tenant's masking policy, cached on the node: the send path never waits for it.

The first send of a tenant on a node loads the policy; after that the cached one is used
at once and refreshed in the background once it is older than ``MASKING_CACHE_SECS``; one
older than twice that is loaded again before use (a quiet tenant's first send). A change
an admin saves is announced on the bus and every node forgets its copy at once
(``server/chat/settings_changes.py``); the refresh is what remains when the bus itself
lost the announcement (then every copy is dropped on its resync).

A load that began before a ``forget`` is used by the send that asked for it (which came
before the announcement) but never kept: it may hold the policy from before the change.
"""

from __future__ import annotations

import asyncio
import logging
import time

from server.foundation.settings import load_settings
from server.security.masking import MaskingPolicy
from server.storage.database import Store

log = logging.getLogger(__name__)

MASKING_CACHE_SECS = 15.0
STALE_FACTOR = 2  # older than this many TTLs, a cached policy is not used at all


def _load_policy(tenant_id: str) -> MaskingPolicy:
    masking = load_settings(tenant_id).masking  # uncached: this class is the cache
    return MaskingPolicy(cards=masking.cards, emails=masking.emails)


class MaskingPolicies:
    def __init__(self, store: Store, ttl_secs: float = MASKING_CACHE_SECS):
        self._store = store
        self._ttl_secs = ttl_secs
        self._cache: dict[str, tuple[MaskingPolicy, float]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._forgotten = 0  # forgets so far: a load keeps its result only if none came since

    def cached(self, tenant_id: str) -> MaskingPolicy | None:
        """The known policy (refreshed in the background when old); None if never loaded."""
        entry = self._cache.get(tenant_id)
        if entry is None:
            return None
        policy, loaded_at = entry
        age = time.monotonic() - loaded_at
        if age > STALE_FACTOR * self._ttl_secs:
            # Long out of date (the tenant was quiet): an admin may have changed it since;
            # the caller loads it before use rather than mask under the old policy.
            return None
        if age > self._ttl_secs and tenant_id not in self._refreshing:
            task = asyncio.ensure_future(self._refresh(tenant_id))
            self._refreshing[tenant_id] = task
            task.add_done_callback(lambda _: self._refreshing.pop(tenant_id, None))
        return policy

    async def policy(self, tenant_id: str) -> MaskingPolicy:
        policy = self.cached(tenant_id)
        if policy is None:
            generation = self._forgotten
            policy = await self._store.run(_load_policy, tenant_id)
            self._keep(tenant_id, policy, generation)
        return policy

    def forget(self, tenant_id: str) -> None:
        """Drop the cached policy: the tenant's settings changed."""
        self._forgotten += 1
        self._cache.pop(tenant_id, None)

    def forget_all(self) -> None:
        """Drop every cached policy: announcements of changes may have been missed."""
        self._forgotten += 1
        self._cache.clear()

    def _keep(self, tenant_id: str, policy: MaskingPolicy, generation: int) -> None:
        if generation == self._forgotten:
            self._cache[tenant_id] = (policy, time.monotonic())

    async def _refresh(self, tenant_id: str) -> None:
        generation = self._forgotten
        try:
            policy = await self._store.run(_load_policy, tenant_id)
        except Exception:
            log.warning("could not refresh the masking policy of %s", tenant_id)
            return
        self._keep(tenant_id, policy, generation)
