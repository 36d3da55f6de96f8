"""What a bridge follows when it says ``hello`` (docs/bridges.md): every open conversation
of its tenant (the caller narrows them to the bridge's departments), and those it names in
``resume``, with the facts the hub needs to follow them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.kernel.actors import ConversationRef
from server.kernel.enums import ConversationStatus
from server.storage.guard import TenantScope
from server.storage.models import Conversation

RESUME_MAX = 10_000  # conversations one hello may name


@dataclass(frozen=True, slots=True)
class Followable:
    ref: ConversationRef
    department: str | None
    open: bool


def _query(scope: TenantScope) -> Any:
    return scope.select(
        Conversation,
        Conversation.id,
        Conversation.visitor_id,
        Conversation.site_id,
        Conversation.department_id,
        Conversation.status,
    )


def bridge_conversations(
    tenant_id: str, resume_ids: list[str]
) -> tuple[list[Followable], dict[str, Followable]]:
    """(the tenant's open conversations oldest first, the ones named in ``resume``)."""
    scope = TenantScope(tenant_id)

    def followable(row: tuple[str, str, str, str | None, str]) -> Followable:
        conv, visitor, site, department, status = row
        ref = ConversationRef(conv, tenant_id, visitor, site)
        return Followable(ref, department, status != ConversationStatus.CLOSED.value)

    still_open = Conversation.status != ConversationStatus.CLOSED.value
    open_rows = _query(scope).where(still_open).order_by(Conversation.created_at, Conversation.id)
    open_ones = [followable(row) for row in open_rows.tuples()]
    named: dict[str, Followable] = {}
    wanted = [c for c in resume_ids[:RESUME_MAX] if isinstance(c, str) and 0 < len(c) <= 26]
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in _query(scope).where(Conversation.id.in_(chunk)).tuples():
            item = followable(row)
            named[item.ref.id] = item
    return open_ones, named
