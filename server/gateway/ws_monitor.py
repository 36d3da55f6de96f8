"""The admin's ``monitor`` frame: follow (or stop following) the tenant's live-monitor feed.

``{"type": "monitor", "on": true}`` joins this connection to ``monitor:<tenant>``
(``visitor.online``, ``visitor.offline``, ``visitor.seen`` of every visitor of the
tenant's sites) and is answered ``event monitor.subscribed`` (``{"on": true}``) once
joined (an event, so that clients that know nothing of it ignore it); the client then reads
the snapshot (``GET /api/v1/monitor/visitors``). Admins only: agents,
bridges and visitors get ``error forbidden``.
"""

from __future__ import annotations

from server.errors import Forbidden
from server.gateway.connection import Connection
from server.gateway.context import Services
from server.kernel import topics
from server.kernel.actors import Actor
from server.kernel.enums import Role
from steadywire.client_frames import Monitor
from steadywire.events import MonitorSubscribed


class MonitorFrames:
    def __init__(self, services: Services):
        self.hub = services.hub

    async def on_monitor(self, conn: Connection, frame: Monitor, actor: Actor) -> None:
        if conn.bridge is not None or actor.is_visitor or actor.role != Role.ADMIN.value:
            raise Forbidden("the live monitor is for admins")
        on = frame.on
        topic = topics.monitor(actor.tenant_id)
        if on:
            self.hub.join(conn, topic)
        else:
            self.hub.leave(conn, topic)
        conn.push_json(MonitorSubscribed(on).to_event(None))
