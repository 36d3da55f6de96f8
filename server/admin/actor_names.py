"""Names for audit rows written before migration 11, which stored only the actor's label
(``agent:<id>``, ``apikey:<id>``, ``operator:<id>``, ``bridge:<id>``, ``system:cli``, or
``agent:<id> via bridge:<id>``): looked up as they are now, once per label and page."""

from __future__ import annotations

from server.storage.guard import TenantScope
from server.storage.models import Agent, ApiKey, Bridge, Operator

# "cli": the backups' export rows (backups/export.py) name the command line so.
_FIXED = {"system:cli": "command line", "cli": "command line", "system:system": "system"}


def _one(tenant_id: str, label: str) -> str:
    if label in _FIXED:
        return _FIXED[label]
    kind, _, ident = label.partition(":")
    if kind == "operator":
        operator = Operator.get_or_none(Operator.id == ident)
        return str(operator.name) if operator is not None else label
    scope = TenantScope(tenant_id)
    row: Agent | ApiKey | Bridge | None = None
    if kind == "agent":
        row = scope.get_or_none(Agent, Agent.id == ident)
    elif kind == "apikey":
        row = scope.get_or_none(ApiKey, ApiKey.id == ident)
    elif kind == "bridge":
        row = scope.get_or_none(Bridge, Bridge.id == ident)
    return str(row.name) if row is not None and row.name else label


def stored_label_name(tenant_id: str, label: str, cache: dict[str, str]) -> str:
    """The name of a stored actor label (the label itself when nothing is found)."""
    if label not in cache:
        who, _, via = label.partition(" via ")
        name = _one(tenant_id, who)
        cache[label] = f"{name} via {_one(tenant_id, via)}" if via else name
    return cache[label]
