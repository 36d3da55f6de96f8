"""Conversation facts that never change (tenant, visitor, site), cached per node."""

from __future__ import annotations

from collections import OrderedDict

from server.kernel.actors import ConversationRef
from server.storage.database import Store
from server.storage.guard import TenantScope, cross_tenant
from server.storage.models import Conversation

CACHE_SIZE = 100_000


class ConversationDirectory:
    def __init__(self, store: Store):
        self._store = store
        self._cache: OrderedDict[str, ConversationRef] = OrderedDict()

    def cached(self, conv_id: str) -> ConversationRef | None:
        ref = self._cache.get(conv_id)
        if ref is not None:
            self._cache.move_to_end(conv_id)
        return ref

    def remember(self, ref: ConversationRef) -> None:
        self._cache[ref.id] = ref
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    async def lookup(self, conv_id: str) -> ConversationRef | None:
        ref = self.cached(conv_id)
        if ref is None and isinstance(conv_id, str) and 0 < len(conv_id) <= 26:
            ref = await self._store.run(_load, conv_id)
            if ref is not None:
                self.remember(ref)
        return ref

    async def department(self, ref: ConversationRef) -> str | None:
        """The conversation's department now (it changes on transfer: never cached)."""
        return (await self._store.run(department_of, ref.tenant_id, ref.id))[1]


def department_of(tenant_id: str, conv_id: str) -> tuple[bool, str | None]:
    """(whether the tenant has this conversation, its department) as stored now."""
    row = (
        TenantScope(tenant_id)
        .select(Conversation, Conversation.department_id)
        .where(Conversation.id == conv_id)
        .first()
    )
    return (False, None) if row is None else (True, row.department_id)


def _load(conv_id: str) -> ConversationRef | None:
    # The caller does not know the tenant yet: this lookup is what finds it, and every
    # caller checks the returned tenant against the actor's before using the row.
    with cross_tenant():
        row = (
            Conversation.select(
                Conversation.id,
                Conversation.tenant_id,
                Conversation.visitor_id,
                Conversation.site_id,
            )
            .where(Conversation.id == conv_id)
            .first()
        )
    if row is None:
        return None
    return ConversationRef(row.id, row.tenant_id, row.visitor_id, row.site_id)
