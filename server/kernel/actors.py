"""Who acts, on what: the actor every domain action is given, and the facts about a
conversation that authorisation needs. Plain values, shared by chat, routing and admin."""

from __future__ import annotations

from dataclasses import dataclass

from server.kernel.enums import SenderType


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a visitor or an agent, always bound to one tenant."""

    type: SenderType
    id: str
    tenant_id: str
    name: str = ""
    role: str = ""  # agents: "agent" | "admin"
    site_id: str | None = None
    api_key: bool = False  # a tenant's backend calling with a signed request
    # Bridges (docs/bridges.md): the bridge an agent acts through, and the departments the
    # bridge is narrowed to (None: the whole tenant). A bridge's own actor has them too.
    via: str | None = None
    departments: frozenset[str] | None = None
    # The client's User-Agent (REST request or WebSocket handshake): recorded in the audit.
    user_agent: str = ""
    # A bridge's actions (an agent's through it, or its robot's) are audited by the
    # transaction that does them, from this address (server/foundation/audit.py
    # ``in_transaction``); None for everyone else, whose routes audit what they must.
    audit_ip: str | None = None
    via_name: str = ""  # the name of the bridge in ``via``, for the audit row

    @property
    def is_visitor(self) -> bool:
        return self.type is SenderType.VISITOR

    @property
    def is_bridge(self) -> bool:
        return self.type is SenderType.BRIDGE

    def in_scope(self, department_id: str | None) -> bool:
        """Whether a conversation of this department is within the actor's bridge scope."""
        return self.departments is None or department_id in self.departments

    def wire(self) -> dict[str, str]:
        return {"type": self.type.value, "id": self.id, "name": self.name}


@dataclass(frozen=True, slots=True)
class ConversationRef:
    """The immutable facts about a conversation that authorisation needs."""

    id: str
    tenant_id: str
    visitor_id: str
    site_id: str
