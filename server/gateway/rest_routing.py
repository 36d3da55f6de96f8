"""Admin REST for routing: department policies, the tenant default, site hours, pre-chat."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from server.errors import SteadyError
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

    async def write(
        request: Request, fn: Callable[..., dict[str, Any]], *args: Any
    ) -> tuple[Actor, dict[str, Any]]:
        actor = await require_agent(services, request, role=Role.ADMIN)
        ip = client_ip(request, services.settings)
        # The body is checked by the action, after the object: a foreign id is 404 first.
        return actor, await services.store.run(fn, actor, *args, request.json, ip)

    async def admin_write(
        request: Request, fn: Callable[..., dict[str, Any]], *args: Any
    ) -> HTTPResponse:
        return json((await write(request, fn, *args))[1])

    async def routing_write(
        request: Request, fn: Callable[..., dict[str, Any]], *args: Any
    ) -> HTTPResponse:
        """A policy change: conversations waiting under a now automatic policy are offered
        at once (nothing else would until another event). The change is committed."""
        actor, result = await write(request, fn, *args)
        with contextlib.suppress(SteadyError):  # else the next trigger offers them
            await services.routing.offer_waiting(actor.tenant_id)
        return json(result)

    @bp.get("/departments/<department:str>/routing", ctx_access="admin")
    async def get_department_routing(request: Request, department: str) -> HTTPResponse:
        """A department's routing policy and offer timeout."""
        return await admin_read(request, routing_settings.get_department_routing, department)

    @bp.put("/departments/<department:str>/routing", ctx_access="admin")
    @request_body(bodies.RoutingBody)
    async def put_department_routing(request: Request, department: str) -> HTTPResponse:
        """Set a department's routing policy and offer timeout."""
        return await routing_write(request, routing_settings.set_department_routing, department)

    @bp.get("/routing/default", ctx_access="admin")
    async def get_default_routing(request: Request) -> HTTPResponse:
        """The routing policy of conversations without a department."""
        return await admin_read(request, routing_settings.get_default_routing)

    @bp.put("/routing/default", ctx_access="admin")
    @request_body(bodies.RoutingBody)
    async def put_default_routing(request: Request) -> HTTPResponse:
        """Set the routing policy of conversations without a department."""
        return await routing_write(request, routing_settings.set_default_routing)

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
