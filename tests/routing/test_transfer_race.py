"""A transfer that loses the race against a close must not reopen the conversation.

The transfer checks that the conversation is open, then writes. A close that commits in
between (another node, the visitor) is simulated by closing the row right after the
check (in the transfer's own transaction, so the 409's rollback undoes it too); the
transfer's UPDATE must then match nothing and answer 409 instead of writing it back active.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from server.errors import Conflict
from server.kernel.actors import Actor, ConversationRef
from server.kernel.enums import ConversationStatus, SenderType
from server.routing import service
from server.storage.guard import TenantScope
from server.storage.models import AuditLog, Conversation
from tests.routing.support import Tenant, new_tenant, with_db
from tests.routing.test_offers import visitor_writes
from tests.support.clients import Clients
from tests.support.server import ServerProcess

CLOSED = ConversationStatus.CLOSED.value


def _closing_after_check(monkeypatch: pytest.MonkeyPatch) -> None:
    real = service._open_row
    calls = {"n": 0}

    def open_row_then_closed(
        scope: TenantScope, ref: ConversationRef, **kwargs: Any
    ) -> Conversation:
        row = real(scope, ref, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:  # the close commits right after the transfer's check
            scope.update(Conversation, status=CLOSED).where(Conversation.id == ref.id).execute()
        return row

    monkeypatch.setattr(service, "_open_row", open_row_then_closed)


async def _conversation(server: ServerProcess, clients: Clients) -> tuple[Tenant, ConversationRef]:
    t = await new_tenant(server)
    conv = await visitor_writes(t, clients)
    row = t.conversation(conv)
    return t, ConversationRef(conv, t.id, row.visitor_id, row.site_id)


@pytest.mark.parametrize("target", ["agent", "department"])
async def test_a_transfer_racing_a_close_does_not_reopen_it(
    server: ServerProcess, clients: Clients, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    t, ref = await _conversation(server, clients)
    # Acting through a bridge: audited in the transfer's transaction, so the refusal must
    # leave no audit row either.
    by = Actor(
        SenderType.AGENT, t.agent_id(0), t.id, "Ann", via="b1", via_name="Slack", audit_ip="::1"
    )
    transfer: Callable[[], Any]
    if target == "agent":
        agent = t.agent_id(0)
        transfer = lambda: service._transfer_to_agent(ref, agent, by)  # noqa: E731
    else:
        dep = t.department("Billing", [0])
        transfer = lambda: service._transfer_to_department(ref, dep, by)  # noqa: E731
    _closing_after_check(monkeypatch)
    with pytest.raises(Conflict) as raised:
        with_db(server, transfer)
    assert raised.value.code.value == "conversation_closed"
    transfers = TenantScope(t.id).select(AuditLog).where(AuditLog.action == "conversation.transfer")
    assert with_db(server, transfers.count) == 0


async def test_transferring_to_the_current_assignee_at_once_succeeds(
    server: ServerProcess, clients: Clients
) -> None:
    """Nothing changes in the row (same agent, same second): still not a closed conflict."""
    t, ref = await _conversation(server, clients)
    agent = await t.agent(clients, 0)
    await agent.send_json({"type": "accept", "conv": ref.id})
    await agent.recv_event("conv.assigned", ref.id)
    for _ in range(2):
        await agent.send_json({"type": "transfer", "conv": ref.id, "to_agent": t.agent_id(0)})
        await agent.recv_event("conv.transferred", ref.id)
    await agent.expect_no_frame(lambda f: f.get("type") == "error", within=0.3)
