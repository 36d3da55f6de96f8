"""A tenant's settings changed on one node: every node drops its cached copies at once.

Nodes cache a tenant's settings (the masking policy on the send path,
``server/chat/masking.py``; the limits, ``server/foundation/settings.py``) and refresh them
every few seconds. Before, an admin who turned on card masking had other nodes store and
deliver card numbers unmasked for up to that long. Now the node that saved the change
announces it on the bus (``settings``, a topic every node follows whatever it serves)
and every node, that one included, forgets the tenant's copies: its next send loads the
new policy. When the bus may have lost announcements (a reconnect to Redis), every copy
of every tenant is dropped.
"""

from __future__ import annotations

from server.bus import Bus, Payload
from server.bus.signals import Signal, signal
from server.chat.masking import MaskingPolicies
from server.foundation import settings as tenant_settings
from server.kernel import topics


def announce(bus: Bus, tenant_id: str) -> None:
    """Call once the change has committed."""
    bus.publish(topics.settings(), signal(Signal.SETTINGS_CHANGED, {"tenant": tenant_id}))


def follow(bus: Bus, masking: MaskingPolicies) -> None:
    """Subscribe this node (once, at start)."""

    def changed(_topic: str, payload: Payload) -> None:
        tenant = (payload.get("data") or {}).get("tenant")
        if payload.get("name") == Signal.SETTINGS_CHANGED and isinstance(tenant, str):
            masking.forget(tenant)
            tenant_settings.forget(tenant)

    def missed() -> None:
        masking.forget_all()
        tenant_settings.forget_all()

    bus.subscribe(topics.settings(), changed)
    bus.on_resync(missed)
