"""Admin REST for agents (role admin, own tenant): create, read, update, disable/enable,
reset password. Revoking changes close the agent's WebSockets on every node."""

from __future__ import annotations

import contextlib

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from server.admin import agents
from server.errors import SteadyError
from server.gateway.auth import require_admin
from server.gateway.context import Services
from server.gateway.net import client_ip
from server.gateway.openapi import no_body, request_body
from server.kernel.actors import Actor


def build_admin_agents_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_admin_agents", url_prefix="/api/v1/agents")
    store, bus = services.store, services.bus

    def ip(request: Request) -> str:
        return client_ip(request, services.settings)

    async def offer_waiting(actor: Actor) -> None:
        """Capacity, departments or an enabled agent may make room: offer what waits now
        (nothing else would until another event). The change is committed already."""
        with contextlib.suppress(SteadyError):  # else the next trigger offers them
            await services.routing.offer_waiting(actor.tenant_id)

    @bp.post("", ctx_access="admin")
    @request_body(agents.AgentCreate)
    async def post_agent(request: Request) -> HTTPResponse:
        """Create an agent or admin, with capacity and departments."""
        actor = await require_admin(services, request)
        created = await store.run(agents.do_create_agent, actor, request.json, ip(request))
        return json(created, status=201)

    @bp.get("/<agent_id:str>", ctx_access="admin")
    async def get_agent(request: Request, agent_id: str) -> HTTPResponse:
        """One agent, admin view."""
        actor = await require_admin(services, request)
        return json(await store.run(agents.get_agent, actor, agent_id))

    @bp.patch("/<agent_id:str>", ctx_access="admin")
    @request_body(agents.AgentUpdate)
    async def patch_agent(request: Request, agent_id: str) -> HTTPResponse:
        """Change name, role, capacity or departments; a role change revokes its tokens."""
        actor = await require_admin(services, request)
        view = await agents.update_agent(store, bus, actor, agent_id, request.json, ip(request))
        await offer_waiting(actor)
        return json(view)

    @bp.post("/<agent_id:str>/disable", ctx_access="admin")
    @no_body
    async def post_disable(request: Request, agent_id: str) -> HTTPResponse:
        """Disable an agent: tokens revoked, WebSockets closed (4401), login refused."""
        actor = await require_admin(services, request)
        return json(await agents.set_disabled(store, bus, actor, agent_id, True, ip(request)))

    @bp.post("/<agent_id:str>/enable", ctx_access="admin")
    @no_body
    async def post_enable(request: Request, agent_id: str) -> HTTPResponse:
        """Enable a disabled agent (it logs in again)."""
        actor = await require_admin(services, request)
        view = await agents.set_disabled(store, bus, actor, agent_id, False, ip(request))
        await offer_waiting(actor)
        return json(view)

    @bp.post("/<agent_id:str>/password", ctx_access="admin")
    @request_body(agents.PasswordReset)
    async def post_password(request: Request, agent_id: str) -> HTTPResponse:
        """Set a new password; the agent's tokens and WebSockets are revoked."""
        actor = await require_admin(services, request)
        return json(
            await agents.reset_password(store, bus, actor, agent_id, request.json, ip(request))
        )

    return bp
