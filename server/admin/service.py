"""Admin actions whose effects reach past their own transaction: the write runs on the
store's threads, then, once it has committed, the action emits what follows from it.

* an agent's tokens revoked (role change, disable, password reset): ``agent.revoked``
  closes its WebSockets on every node (the hub answers with 4401);
* a site deleted: ``site.deleted`` closes its visitors' WebSockets on every node;
* an agent enabled or changed (capacity, departments): routing offers what waits now, as
  nothing else would until another event;
* the settings changed: ``settings.changed`` makes every node forget its cached copies,
  so each masks by the new policy from its next send (``server/chat/settings_changes.py``).

Every caller (the REST gateway today, the CLI or a bridge tomorrow) gets the same effects.
The units of work themselves (``do_*`` in ``agents.py``, ``sites.py``, ``settings.py``)
stay plain functions the CLI and tests can run on their own.
"""

from __future__ import annotations

import contextlib
from typing import Any

from server.admin import agents, sites
from server.bus import Bus
from server.bus.signals import Signal, signal
from server.chat import settings_changes
from server.chat.masking import MaskingPolicies
from server.errors import SteadyError
from server.foundation import settings as tenant_settings
from server.kernel import topics
from server.kernel.actors import Actor
from server.routing.service import RoutingService
from server.storage.database import Store


class AdminService:
    def __init__(self, store: Store, bus: Bus, routing: RoutingService, masking: MaskingPolicies):
        self.store = store
        self.bus = bus
        self.routing = routing
        self.masking = masking

    # -- agents ------------------------------------------------------------------------
    async def update_agent(
        self, actor: Actor, agent_id: str, fields: object, ip: str
    ) -> dict[str, Any]:
        """Change name, role, capacity or departments; a role change revokes its tokens."""
        view, revoked = await self.store.run(agents.do_update_agent, actor, agent_id, fields, ip)
        if revoked:
            self._revoked(agent_id)
        await self._offer_waiting(actor.tenant_id)
        return view

    async def set_agent_disabled(
        self, actor: Actor, agent_id: str, disabled: bool, ip: str
    ) -> dict[str, Any]:
        view, revoked = await self.store.run(agents.do_set_disabled, actor, agent_id, disabled, ip)
        if revoked:
            self._revoked(agent_id)
        if not disabled:
            await self._offer_waiting(actor.tenant_id)
        return view

    async def reset_agent_password(
        self, actor: Actor, agent_id: str, fields: object, ip: str
    ) -> dict[str, Any]:
        view = await self.store.run(agents.do_reset_password, actor, agent_id, fields, ip)
        self._revoked(agent_id)
        return view

    def _revoked(self, agent_id: str) -> None:
        self.bus.publish(topics.agent(agent_id), signal(Signal.AGENT_REVOKED, {"agent": agent_id}))

    async def _offer_waiting(self, tenant_id: str) -> None:
        """Capacity, departments or an enabled agent may make room: offer what waits now.
        The change is committed already: if offering fails, the next trigger offers them."""
        with contextlib.suppress(SteadyError):
            await self.routing.offer_waiting(tenant_id)

    # -- sites -------------------------------------------------------------------------
    async def delete_site(self, actor: Actor, site_key: str, ip: str) -> None:
        """The widget stops working at once; the site's visitors are disconnected."""
        await self.store.run(sites.do_delete_site, actor, site_key, ip)
        self.bus.publish(topics.site(site_key), signal(Signal.SITE_DELETED, {"site": site_key}))

    # -- settings ----------------------------------------------------------------------
    async def update_settings(
        self, actor: Actor, fields: object, ip: str
    ) -> tenant_settings.TenantSettings:
        """Merge settings sections; every node masks by the new policy from its next send."""
        updated = await self.store.run(tenant_settings.do_update_settings, actor, fields, ip)
        self.masking.forget(actor.tenant_id)  # here at once, whatever the bus does
        settings_changes.announce(self.bus, actor.tenant_id)
        return updated
