"""Bus-only events: node-to-node signals that close connections, never sent to a client.

They travel in the ``event`` frame's shape (the hub reads every payload by ``name``),
built by steadywire's :class:`~steadywire.events.Event`, but they are not part of the
wire protocol: their names are kept here, apart from ``steadywire.EventName``, and
tests/unit/steadywire/test_catalogue.py allows exactly these beside the catalogue.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from steadywire.events import Event


class Signal(StrEnum):
    AGENT_REVOKED = "agent.revoked"  # on agent:<id>: its tokens were revoked (close 4401)
    BRIDGE_REVOKED = "bridge.revoked"  # on bridge:<id>
    SITE_DELETED = "site.deleted"  # on site:<key>: its visitors are closed
    # On settings: a tenant's settings changed; every node drops its cached copies.
    SETTINGS_CHANGED = "settings.changed"


def signal(name: Signal, data: dict[str, Any]) -> dict[str, Any]:
    return Event(name.value, None, data).to_wire()
