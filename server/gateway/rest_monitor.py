"""REST: the live monitor (docs/protocol.md, "Live monitor").

``GET /api/v1/monitor/visitors`` (admins): the snapshot — visitors connected now on any
node, the queue with waiting times, the agents with status, connection and load. The
changes after it arrive on the WebSocket once the admin sends ``monitor``.
``POST /api/v1/monitor/visitors/<visitor>/invite`` (an agent or admin with its own login):
proactive invite of a browsing visitor (server.routing.invites).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from server.errors import BadRequest
from server.gateway.auth import require_admin, require_agent_itself
from server.gateway.context import Services
from server.gateway.openapi import request_body
from server.routing.invites import GREETING_MAX_CHARS, Invites
from server.routing.monitor import monitor_snapshot


class InviteBody(BaseModel):
    """``POST /api/v1/monitor/visitors/<visitor>/invite`` (server.routing.invites): the
    greeting, stored as the inviting agent's first message of the new conversation."""

    body: str = Field(min_length=1, max_length=GREETING_MAX_CHARS)


def build_monitor_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_monitor", url_prefix="/api/v1")
    invites = Invites(services.store, services.bus, services.chat, services.presence)

    @bp.get("/monitor/visitors", ctx_access="admin")
    async def get_monitor(request: Request) -> HTTPResponse:
        """The live monitor's snapshot: visitors on the tenant's sites now (page, title,
        since, conversation), the queue with waiting times, agents with status and load."""
        actor = await require_admin(services, request)
        connected = await services.presence.connected_of_tenant("visitor", actor.tenant_id)
        snapshot = await services.store.run(monitor_snapshot, actor, connected)
        online = await services.presence.connected_ids(
            "agent", actor.tenant_id, [a["id"] for a in snapshot["agents"]]
        )
        for agent in snapshot["agents"]:
            agent["connected"] = agent["id"] in online
        return json(snapshot)

    @bp.post("/monitor/visitors/<visitor:str>/invite", ctx_access="agent_self")
    @request_body(InviteBody)
    async def post_invite(request: Request, visitor: str) -> HTTPResponse:
        """Invite a browsing visitor: a new conversation assigned to the caller, opened in
        the visitor's widget with the caller's greeting (409 if the visitor already chats)."""
        actor = await require_agent_itself(services, request)
        body: Any = request.json
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return json(await invites.invite(actor, visitor, body.get("body")), status=201)

    return bp
