"""REST for bridges (docs/bridges.md): admins create, list and revoke bridges and manage
their links; an agent gets a one-time link code; a bridge claims one with its own token.
Revoking closes the bridge's WebSockets on every node (4401)."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from server.admin import bridge_links, bridges
from server.gateway.auth import (
    require_admin,
    require_agent,
    require_agent_itself,
    require_bridge,
)
from server.gateway.context import Services
from server.gateway.net import client_ip
from server.gateway.openapi import no_body, request_body
from server.kernel.enums import Role


def build_bridges_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_bridges", url_prefix="/api/v1")
    store, bus = services.store, services.bus

    def ip(request: Request) -> str:
        return client_ip(request, services.settings)

    @bp.get("/bridges", ctx_access="admin")
    async def get_bridges(request: Request) -> HTTPResponse:
        """List the tenant's bridges, revoked ones included (never their tokens)."""
        actor = await require_admin(services, request)
        return json({"bridges": await store.run(bridges.list_bridges, actor)})

    @bp.post("/bridges", ctx_access="admin")
    @request_body(bridges.BridgeCreate)
    async def post_bridge(request: Request) -> HTTPResponse:
        """Create a bridge; the answer carries its token, shown this once."""
        actor = await require_admin(services, request)
        created = await store.run(bridges.do_create_bridge, actor, request.json, ip(request))
        return json(created, status=201)

    @bp.delete("/bridges/<bridge_id:str>", ctx_access="admin")
    async def delete_bridge(request: Request, bridge_id: str) -> HTTPResponse:
        """Revoke a bridge: its token fails from now on, its sockets close (4401)."""
        actor = await require_admin(services, request)
        return json(await bridges.revoke_bridge(store, bus, actor, bridge_id, ip(request)))

    @bp.get("/bridges/<bridge_id:str>/links", ctx_access="admin", ctx_bridge=True)
    async def get_links(request: Request, bridge_id: str) -> HTTPResponse:
        """The chat-app users linked to agents through a bridge (a bridge: its own only)."""
        actor = await require_agent(services, request, role=Role.ADMIN, bridge=True)
        return json(await store.run(bridge_links.list_links, actor, bridge_id))

    @bp.delete(
        "/bridges/<bridge_id:str>/links/<external_user:str>", ctx_access="admin", unquote=True
    )
    async def delete_link(request: Request, bridge_id: str, external_user: str) -> HTTPResponse:
        """Unlink a chat-app user: the bridge can no longer act as its agent for them."""
        actor = await require_admin(services, request)
        return json(
            await store.run(bridge_links.do_unlink, actor, bridge_id, external_user, ip(request))
        )

    @bp.post("/bridges/links", ctx_access="bridge")
    @request_body(bridge_links.LinkClaim)
    async def post_link(request: Request) -> HTTPResponse:
        """A bridge claims an agent's link code for a chat-app user: {"agent_id"}."""
        actor = await require_bridge(services, request)
        return json(
            await store.run(bridge_links.do_claim_link_code, actor, request.json, ip(request))
        )

    @bp.post("/me/link-code", ctx_access="agent_self")
    @no_body
    async def post_link_code(request: Request) -> HTTPResponse:
        """A one-time code (10 minutes) that links a Slack or Telegram user to the caller."""
        actor = await require_agent_itself(services, request)
        return json(
            await store.run(
                bridge_links.do_issue_link_code,
                actor,
                actor.id,
                services.settings.link_code_ttl_secs,
                ip(request),
            )
        )

    return bp
