"""REST for agent tools: visitor context, conversation detail, labels, canned replies,
search. Everything is scoped to the caller's tenant; another tenant's ids answer 404."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from server.chat import barge, canned, labels
from server.chat.detail import conversation_detail
from server.chat.search import check_search, search
from server.chat.visitors import get_visitor
from server.errors import BadRequest
from server.gateway import api_bodies as bodies
from server.gateway.auth import require_admin, require_agent
from server.gateway.context import Services
from server.gateway.net import client_ip
from server.gateway.openapi import no_body, request_body

ID_MAX_CHARS = 64


def _body(request: Request) -> dict[str, Any]:
    try:
        data = request.json
    except Exception:
        raise BadRequest("the body must be JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def _id(value: str) -> str:
    # Longer than any id we hand out: unknown, answered like any other unknown id.
    return value[:ID_MAX_CHARS]


def build_context_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_agent_tools", url_prefix="/api/v1")
    run = services.store.run

    def ip(request: Request) -> str:
        return client_ip(request, services.settings)

    # -- visitor context and conversation detail ------------------------------------
    @bp.get("/visitors/<visitor_id:str>", ctx_access="agent")
    async def get_visitor_context(request: Request, visitor_id: str) -> HTTPResponse:
        """A visitor's context: device, referrer, visits, page trail, conversations."""
        actor = await require_agent(services, request)
        return json(await run(get_visitor, actor.tenant_id, _id(visitor_id)))

    @bp.get("/conversations/<conv:str>", ctx_access="agent", ctx_bridge=True)
    async def get_conversation(request: Request, conv: str) -> HTTPResponse:
        """One conversation with its visitor's context and its labels."""
        actor = await require_agent(services, request, bridge=True)
        return json(await run(conversation_detail, actor, _id(conv)))

    @bp.post("/conversations/<conv:str>/join", ctx_access="admin")
    @no_body
    async def post_join(request: Request, conv: str) -> HTTPResponse:
        """Barge in: the visitor is told that the caller joined (admins; once per person)."""
        actor = await require_admin(services, request)
        return json(await barge.join(services.chat, actor, _id(conv)))

    # -- labels ----------------------------------------------------------------------
    @bp.get("/labels", ctx_access="agent")
    async def get_labels(request: Request) -> HTTPResponse:
        """The tenant's labels with how many conversations carry each."""
        actor = await require_agent(services, request)
        return json({"labels": await run(labels.tenant_labels, actor)})

    @bp.get("/conversations/<conv:str>/labels", ctx_access="agent")
    async def get_conversation_labels(request: Request, conv: str) -> HTTPResponse:
        """The labels of one conversation."""
        actor = await require_agent(services, request)
        return json((await run(labels.list_labels, actor, _id(conv))).to_json())

    @bp.post("/conversations/<conv:str>/labels", ctx_access="agent")
    @request_body(bodies.LabelBody)
    async def post_conversation_label(request: Request, conv: str) -> HTTPResponse:
        """Add a label to a conversation (adding it twice is harmless)."""
        actor = await require_agent(services, request)
        label = _body(request).get("label")
        added = await labels.add(services.store, services.bus, actor, _id(conv), label)
        return json(added.to_json())

    @bp.delete("/conversations/<conv:str>/labels/<label:str>", ctx_access="agent", unquote=True)
    async def delete_conversation_label(request: Request, conv: str, label: str) -> HTTPResponse:
        """Remove a label from a conversation."""
        actor = await require_agent(services, request)
        left = await labels.remove(services.store, services.bus, actor, _id(conv), label)
        return json(left.to_json())

    # -- canned replies ----------------------------------------------------------------
    @bp.get("/canned-replies", ctx_access="agent")
    async def get_canned_replies(request: Request) -> HTTPResponse:
        """Tenant-wide canned replies and the caller's personal ones."""
        actor = await require_agent(services, request)
        return json({"canned_replies": await run(canned.list_canned, actor)})

    @bp.post("/canned-replies", ctx_access="agent")
    @request_body(bodies.CannedReplyCreate)
    async def post_canned_reply(request: Request) -> HTTPResponse:
        """Create a canned reply: personal (any agent) or tenant-wide (admins)."""
        actor = await require_agent(services, request)
        created = await run(canned.create_canned, actor, _body(request), ip(request))
        return json(created, status=201)

    @bp.patch("/canned-replies/<reply_id:str>", ctx_access="agent")
    @request_body(bodies.CannedReplyUpdate)
    async def patch_canned_reply(request: Request, reply_id: str) -> HTTPResponse:
        """Change a canned reply's shortcut or body (tenant-wide ones: admins only)."""
        actor = await require_agent(services, request)
        fields = _body(request)
        return json(await run(canned.update_canned, actor, _id(reply_id), fields, ip(request)))

    @bp.delete("/canned-replies/<reply_id:str>", ctx_access="agent")
    async def delete_canned_reply(request: Request, reply_id: str) -> HTTPResponse:
        """Delete a canned reply (tenant-wide ones: admins only)."""
        actor = await require_agent(services, request)
        await run(canned.delete_canned, actor, _id(reply_id), ip(request))
        return json({"deleted": reply_id})

    @bp.post("/canned-replies/<reply_id:str>/render", ctx_access="agent")
    @request_body(bodies.CannedRender)
    async def render_canned_reply(request: Request, reply_id: str) -> HTTPResponse:
        """A canned reply's text with its placeholders filled for one conversation."""
        actor = await require_agent(services, request)
        conv = _body(request).get("conv")
        return json(await run(canned.render_canned, actor, _id(reply_id), conv))

    # -- search ------------------------------------------------------------------------
    @bp.get("/search", ctx_access="agent")
    async def get_search(request: Request) -> HTTPResponse:
        """Full-text search over the tenant's messages, with conversation filters."""
        actor = await require_agent(services, request)
        args = {name: request.args.get(name) for name in request.args}
        query = check_search(actor, args)
        return json({"results": await run(search, actor, query)})

    return bp
