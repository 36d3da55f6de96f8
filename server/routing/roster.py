"""Who serves which department in one tenant: the audience of queue events (the gateway's
queue fan-out, ``server/gateway/queue_fanout.py``, reads it per tenant)."""

from __future__ import annotations

from dataclasses import dataclass

from server.storage.guard import TenantScope
from server.storage.models import AgentDepartment, Role


@dataclass(frozen=True, slots=True)
class Roster:
    """Who serves which department in one tenant."""

    departments: dict[str, frozenset[str]]  # agent id -> its departments
    staffed: frozenset[str]  # departments with at least one member

    def may_serve(self, agent_id: str, role: str, department: str | None) -> bool:
        if department is None or department not in self.staffed or role == Role.ADMIN.value:
            return True
        return department in self.departments.get(agent_id, ())


def read_roster(tenant_id: str) -> Roster:
    """The tenant's department memberships (blocking: run it on the store's threads)."""
    scope = TenantScope(tenant_id)
    found: dict[str, set[str]] = {}
    for row in scope.select(AgentDepartment):
        found.setdefault(row.agent_id, set()).add(row.department_id)
    departments = {agent: frozenset(ids) for agent, ids in found.items()}
    staffed = frozenset(d for ids in departments.values() for d in ids)
    return Roster(departments, staffed)
