"""A bridge's action and its audit row are one transaction (``audit.in_transaction``).

Each action a bridge takes (accept, transfer to an agent or a department, close, the
robot's hand-off) is run here with the audit insert failing: the action must be undone
with it, where before the row was written after the action's own commit (a node killed
in between left an action nobody could trace to its bridge). Then the same action goes
through, and its row is there with the details; done by an agent on its own (no
``audit_ip``) it writes none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from server.chat import queries
from server.foundation import audit
from server.kernel.actors import Actor, ConversationRef
from server.kernel.enums import ROBOT_ASSIGNEE, ConversationStatus, SenderType
from server.routing import robots, service
from server.storage.guard import TenantScope
from server.storage.models import Conversation
from tests.routing.support import Tenant, new_tenant, with_db
from tests.routing.test_offers import visitor_writes
from tests.support.clients import Clients
from tests.support.server import ServerProcess

ACTIONS = ["accept", "transfer_to_agent", "transfer_to_department", "close", "robot_hand_off"]


class AuditRefused(Exception):
    """The audit insert failing (a full disk, a lost connection): raised in its place."""


def _refused(*args: Any, **kwargs: Any) -> None:
    raise AuditRefused


def _state(t: Tenant, conv: str) -> tuple[Any, ...]:
    row = t.conversation(conv)
    return (row.status, row.assignee_id, row.assignee_type, row.department_id)


def _prepare(t: Tenant, action: str, ref: ConversationRef) -> tuple[Actor, Callable[[], Any]]:
    """The bridge's actor and the store function of ``action`` (its domain change)."""
    agent = t.agent_id(0)
    ann = Actor(
        SenderType.AGENT,
        agent,
        t.id,
        "Ann",
        via="bridge-s",
        via_name="Support Slack",
        audit_ip="10.9.8.7",
    )
    if action == "accept":
        return ann, lambda: service._claim(ref, ann)
    if action == "transfer_to_agent":
        other = t.agent_id(1)
        return ann, lambda: service._transfer_to_agent(ref, other, ann)
    if action == "transfer_to_department":
        dep = t.department("Billing", [1])
        return ann, lambda: service._transfer_to_department(ref, dep, ann)
    if action == "close":
        return ann, lambda: queries.close_conversation(ref, ann)
    robot = Actor(SenderType.AI, "robot-1", t.id, "Helper", audit_ip="10.9.8.7")
    with_db(
        t.server,
        lambda: (
            TenantScope(t.id)
            .update(
                Conversation,
                status=ConversationStatus.ACTIVE.value,
                assignee_id=robot.id,
                assignee_type=ROBOT_ASSIGNEE,
            )
            .where(Conversation.id == ref.id)
            .execute()
        ),
    )
    return robot, lambda: robots.hand_off(ref, "unsure", robot, None)


EXPECTED = {
    "accept": ("conversation.accept", {}),
    "transfer_to_agent": ("conversation.transfer", {"to_agent": "<agent1>"}),
    "transfer_to_department": ("conversation.transfer", {"to_department": "<billing>"}),
    "close": ("conversation.close", {}),
    "robot_hand_off": ("conversation.transfer", {"to_queue": True, "reason": "unsure"}),
}


@pytest.mark.parametrize("action", ACTIONS)
async def test_a_bridge_action_and_its_audit_row_commit_together(
    server: ServerProcess, clients: Clients, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    t = await new_tenant(server)
    conv = await visitor_writes(t, clients)
    row = t.conversation(conv)
    ref = ConversationRef(conv, t.id, row.visitor_id, row.site_id)
    actor, act = _prepare(t, action, ref)
    before = _state(t, conv)

    with monkeypatch.context() as patched:
        patched.setattr(audit, "record", _refused)
        with pytest.raises(AuditRefused):
            with_db(server, act)
    assert _state(t, conv) == before, "the action was kept without its audit row"
    name, details = EXPECTED[action]
    assert t.audit(name) == []

    with_db(server, act)
    assert _state(t, conv) != before
    rows = t.audit(name)
    assert len(rows) == 1
    entry = rows[0]
    expected_details = {
        key: {"<agent1>": t.agent_id(1), "<billing>": t.conversation(conv).department_id}.get(
            value, value
        )
        if isinstance(value, str)
        else value
        for key, value in details.items()
    }
    assert orjson.loads(entry.summary) == expected_details
    assert (entry.target, entry.ip) == (conv, "10.9.8.7")
    if actor.via:
        assert entry.actor == f"agent:{actor.id} via bridge:bridge-s"
        assert entry.actor_name == "Ann via Support Slack"
    else:
        assert (entry.actor, entry.actor_name) == ("ai:robot-1", "Helper")


async def test_the_same_actions_by_an_agent_on_their_own_write_no_audit_row(
    server: ServerProcess, clients: Clients
) -> None:
    """Only a bridge's actions are audited here; an agent's accept, transfer and close
    are in the conversation's own history."""
    t = await new_tenant(server)
    conv = await visitor_writes(t, clients)
    row = t.conversation(conv)
    ref = ConversationRef(conv, t.id, row.visitor_id, row.site_id)
    alone = Actor(SenderType.AGENT, t.agent_id(0), t.id, "Ann")
    with_db(server, lambda: service._claim(ref, alone))
    with_db(server, lambda: service._transfer_to_agent(ref, t.agent_id(1), alone))
    with_db(server, lambda: queries.close_conversation(ref, alone))
    assert t.conversation(conv).status == ConversationStatus.CLOSED.value
    for name in ("conversation.accept", "conversation.transfer", "conversation.close"):
        assert t.audit(name) == []
