"""Admin REST for routing: department policies, the tenant default, site hours, pre-chat."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from server.gateway import api_bodies as bodies
from server.gateway.auth import require_agent
from server.gateway.context import Services
from server.gateway.net import client_ip
from server.gateway.openapi import request_body
from server.kernel.actors import Actor
from server.kernel.enums import Role
from server.routing import settings as routing_settings


def build_routing_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_routing", url_prefix="/api/v1")

    async def admin_read(
        request: Request, fn: Callable[..., dict[str, Any]], *args: Any
    ) -> HTTPResponse:
        actor = await require_agent(services, request, role=Role.ADMIN)
        return json(await services.store.run(fn, actor, *args))

    async def admin_and_ip(request: Request) -> tuple[Actor, str]:
        actor = await require_agent(services, request, role=Role.ADMIN)
        return actor, client_ip(request, services.settings)

    async def admin_write(
        request: Request, fn: Callable[..., dict[str, Any]], *args: Any
    ) -> HTTPResponse:
        actor, ip = await admin_and_ip(request)
        # The body is checked by the action, after the object: a foreign id is 404 first.
        return json(await services.store.run(fn, actor, *args, request.json, ip))

    @bp.get("/departments/<department:str>/routing", ctx_access="admin")
    async def get_department_routing(request: Request, department: str) -> HTTPResponse:
        """A department's routing policy and offer timeout."""
        return await admin_read(request, routing_settings.get_department_routing, department)

    @bp.put("/departments/<department:str>/routing", ctx_access="admin")
    @request_body(bodies.RoutingBody)
    async def put_department_routing(request: Request, department: str) -> HTTPResponse:
        """Set a department's routing policy and offer timeout."""
        actor, ip = await admin_and_ip(request)
        # Routing's action offers what now waits under an automatic policy.
        routing = services.routing
        return json(await routing.set_department_routing(actor, department, request.json, ip))

    @bp.get("/routing/default", ctx_access="admin")
    async def get_default_routing(request: Request) -> HTTPResponse:
        """The routing policy of conversations without a department."""
        return await admin_read(request, routing_settings.get_default_routing)

    @bp.put("/routing/default", ctx_access="admin")
    @request_body(bodies.RoutingBody)
    async def put_default_routing(request: Request) -> HTTPResponse:
        """Set the routing policy of conversations without a department."""
        actor, ip = await admin_and_ip(request)
        return json(await services.routing.set_default_routing(actor, request.json, ip))

    @bp.get("/sites/<site:str>/hours", ctx_access="admin")
    async def get_site_hours(request: Request, site: str) -> HTTPResponse:
        """A site's working hours, welcome and after-hours messages."""
        return await admin_read(request, routing_settings.get_site_hours, site)

    @bp.put("/sites/<site:str>/hours", ctx_access="admin")
    @request_body(bodies.SiteHoursBody)
    async def put_site_hours(request: Request, site: str) -> HTTPResponse:
        """Set a site's working hours, welcome and after-hours messages."""
        return await admin_write(request, routing_settings.set_site_hours, site)

    @bp.get("/sites/<site:str>/prechat", ctx_access="admin")
    async def get_site_prechat(request: Request, site: str) -> HTTPResponse:
        """A site's pre-chat form."""
        return await admin_read(request, routing_settings.get_site_prechat, site)

    @bp.put("/sites/<site:str>/prechat", ctx_access="admin")
    @request_body(bodies.PrechatBody)
    async def put_site_prechat(request: Request, site: str) -> HTTPResponse:
        """Set a site's pre-chat form: enabled, fields, required."""
        return await admin_write(request, routing_settings.set_site_prechat, site)

    return bp
