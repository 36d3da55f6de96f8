"""Who serves which department in one tenant, which departments route themselves, and
which waiting conversations are offered to whom: the audience of queue events (the
gateway's queue fan-out, ``server/gateway/queue_fanout.py``, reads them per tenant).
Blocking reads: run them on the store's threads."""

from __future__ import annotations

from dataclasses import dataclass, field

import peewee as pw

from server.kernel.enums import ConversationStatus, Role
from server.routing.offers import default_routing
from server.routing.policy import AUTO_POLICIES
from server.storage.guard import TenantScope
from server.storage.models import AgentDepartment, Conversation, Department
from server.times import iso_time
from steadywire.events import QueueWaiting

Waiting = QueueWaiting  # one department's waiting conversations (None: no department)


@dataclass(frozen=True, slots=True)
class Roster:
    """Who serves which department in one tenant, and which departments route themselves."""

    departments: dict[str, frozenset[str]]  # agent id -> its departments
    staffed: frozenset[str]  # departments with at least one member
    automatic: dict[str, bool] = field(default_factory=dict)  # department -> offers itself
    automatic_default: bool = False  # the tenant's policy for the rest (no department)

    def may_serve(self, agent_id: str, role: str, department: str | None) -> bool:
        if department is None or department not in self.staffed or role == Role.ADMIN.value:
            return True
        return department in self.departments.get(agent_id, ())

    @property
    def any_automatic(self) -> bool:
        return self.automatic_default or any(self.automatic.values())

    def automatic_for(self, agent_id: str, role: str) -> bool:
        """Whether the agent may serve some automatically routed conversation (then it is
        not sent every card, and gets ``queue.summary`` instead)."""
        return self.automatic_default or any(
            auto and self.may_serve(agent_id, role, department)
            for department, auto in self.automatic.items()
        )

    def routes_automatically(self, department: str | None) -> bool:
        """As ``routing_of``: a known department's own policy, else the tenant default."""
        if department is not None and department in self.automatic:
            return self.automatic[department]
        return self.automatic_default


def read_roster(tenant_id: str) -> Roster:
    scope = TenantScope(tenant_id)
    found: dict[str, set[str]] = {}
    for row in scope.select(AgentDepartment):
        found.setdefault(row.agent_id, set()).add(row.department_id)
    departments = {agent: frozenset(ids) for agent, ids in found.items()}
    staffed = frozenset(d for ids in departments.values() for d in ids)
    automatic = {
        department: policy in AUTO_POLICIES
        for department, policy in scope.select(Department, Department.id, Department.policy)
        .tuples()
        .iterator()
    }
    automatic_default = default_routing(scope).policy in AUTO_POLICIES
    return Roster(departments, staffed, automatic, automatic_default)


def offers_held(tenant_id: str) -> dict[str, str]:
    """Waiting conversation -> the agent it is offered to now (the queue replayed on hello
    shows an automatically routed card only to that agent)."""
    scope = TenantScope(tenant_id)
    rows = scope.select(Conversation, Conversation.id, Conversation.offered_to).where(
        Conversation.status == ConversationStatus.QUEUED.value,
        Conversation.offered_to.is_null(False),
    )
    return {conv: agent for conv, agent in rows.tuples()}


def waiting_by_department(tenant_id: str) -> list[Waiting]:
    """What waits in the tenant's queue (as the queue replayed on hello: a first message)."""
    scope = TenantScope(tenant_id)
    rows = (
        scope.select(
            Conversation,
            Conversation.department_id,
            pw.fn.COUNT(Conversation.id),
            pw.fn.MIN(Conversation.created_at),
        )
        .where(Conversation.status == ConversationStatus.QUEUED.value, Conversation.last_seq > 0)
        .group_by(Conversation.department_id)
        .tuples()
    )
    found = []
    for department, count, oldest in rows:
        if isinstance(oldest, str):  # SQLite hands an aggregate back as text
            oldest = Conversation.created_at.python_value(oldest)
        found.append(Waiting(department, int(count), iso_time(oldest) or ""))
    return sorted(found, key=lambda w: (w.department is not None, w.department or ""))
