"""REST for agents: who am I, conversation lists and history, the tenant's agents."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse
from sanic_ext.extensions.openapi import openapi

from server.admin.agents import list_agents_admin
from server.admin.auth import agent_profile
from server.chat.listing import list_agents, list_departments, page_conversations
from server.errors import BadRequest
from server.gateway.auth import require_agent
from server.gateway.context import Services
from server.ints import in_int64
from server.kernel.enums import Role


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not in_int64(value):
        raise BadRequest(f"{name} must be a 64-bit integer")
    return value


def _bool_arg(request: Request, name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw not in ("0", "1", "true", "false"):
        raise BadRequest(f"{name} must be true or false")
    return raw in ("1", "true")


def build_rest_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_rest", url_prefix="/api/v1")

    @bp.get("/me", ctx_access="agent", ctx_bridge=True)
    async def get_me(request: Request) -> HTTPResponse:
        """Who am I: the calling agent, API key or bridge."""
        actor = await require_agent(services, request, bridge=True)
        return json(await services.store.run(agent_profile, actor))

    @bp.get("/conversations", ctx_access="agent", ctx_bridge=True)
    @openapi.parameter("status", str)
    @openapi.parameter("assignee", str)
    @openapi.parameter("offline", bool)
    @openapi.parameter("order", str)
    @openapi.parameter("limit", int)
    @openapi.parameter("cursor", str)
    async def get_conversations(request: Request) -> HTTPResponse:
        """A page of the tenant's conversations (status, assignee, offline; order newest
        or oldest first; limit; cursor from next_cursor) with the total that match."""
        actor = await require_agent(services, request, bridge=True)
        page = await services.store.run(
            page_conversations,
            actor,
            request.args.get("status"),
            request.args.get("assignee"),
            _int_arg(request, "limit", 50),
            _bool_arg(request, "offline"),
            order=request.args.get("order") or "newest",
            cursor=request.args.get("cursor") or None,
        )
        rows = page.cards
        online = await services.presence.connected_ids(
            "visitor", actor.tenant_id, [r["visitor"]["id"] for r in rows if r["visitor"]]
        )
        for row in rows:
            row["visitor_online"] = bool(row["visitor"]) and row["visitor"]["id"] in online
        return json({"conversations": rows, "total": page.total, "next_cursor": page.next_cursor})

    @bp.get("/conversations/<conv:str>/messages", ctx_access="agent", ctx_bridge=True)
    async def get_messages(request: Request, conv: str) -> HTTPResponse:
        """A conversation's history after a seq, paged."""
        actor = await require_agent(services, request, bridge=True)
        ref, messages, has_more = await services.chat.history(
            actor, conv, _int_arg(request, "after", 0), _int_arg(request, "limit", 100)
        )
        return json(
            {
                "conv": ref.id,
                "messages": [services.chat.wire_for(m, actor) for m in messages],
                "has_more": has_more,
            }
        )

    @bp.get("/departments", ctx_access="agent", ctx_bridge=True)
    async def get_departments(request: Request) -> HTTPResponse:
        """The tenant's departments."""
        actor = await require_agent(services, request, bridge=True)
        return json({"departments": await services.store.run(list_departments, actor)})

    @bp.get("/agents", ctx_access="agent", ctx_bridge=True)
    async def get_agents(request: Request) -> HTTPResponse:
        """The tenant's agents; admins also see disabled ones, capacity and departments."""
        actor = await require_agent(services, request, bridge=True)
        lister = list_agents_admin if actor.role == Role.ADMIN.value else list_agents
        agents = await services.store.run(lister, actor)
        connected = await services.presence.connected_ids(
            "agent", actor.tenant_id, [a["id"] for a in agents]
        )
        for agent in agents:
            agent["connected"] = agent["id"] in connected  # "status" stays the chosen one
        return json({"agents": agents})

    return bp
