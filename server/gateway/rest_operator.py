"""Platform operator REST (SaaS mode): log in, list and create tenants. With its token an
operator also uses every admin route of a tenant it names (X-Steady-Tenant or ?tenant=)."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from server.admin import operators
from server.admin.auth import ClientInfo, LoginPolicy
from server.config import DeploymentMode
from server.errors import BadRequest, NotFound
from server.gateway.auth import require_operator
from server.gateway.context import Services
from server.gateway.net import client_ip
from server.gateway.openapi import request_body


def build_operator_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_operator", url_prefix="/api/v1")
    settings = services.settings

    def ip(request: Request) -> str:
        return client_ip(request, settings)

    @bp.post("/operator/login", ctx_access="public")
    @request_body(operators.OperatorLogin)
    async def post_operator_login(request: Request) -> HTTPResponse:
        """Platform operator login (SaaS mode): a token for the operator and admin routes."""
        fields: Any = request.json
        if not isinstance(fields, dict):
            raise BadRequest("the body must be a JSON object")
        if settings.mode is not DeploymentMode.SAAS:
            raise NotFound("operators exist only in SaaS mode")
        client = ClientInfo(ip(request), request.headers.get("user-agent", ""), None)
        policy = LoginPolicy(
            settings.login_max_failures_account,
            settings.login_max_failures_ip,
            settings.login_window_secs,
            settings.agent_token_ttl_secs,
        )
        return json(
            await services.store.run(
                operators.operator_login, services.signer, fields, client, policy
            )
        )

    @bp.get("/tenants", ctx_access="operator")
    async def get_tenants(request: Request) -> HTTPResponse:
        """Every tenant of the platform."""
        await require_operator(services, request)
        return json({"tenants": await services.store.run(operators.list_tenants)})

    @bp.post("/tenants", ctx_access="operator")
    @request_body(operators.TenantCreate)
    async def post_tenant(request: Request) -> HTTPResponse:
        """Create a tenant (then create its first admin with POST /agents?tenant=...)."""
        claims = await require_operator(services, request)
        created = await services.store.run(
            operators.do_create_tenant, claims, request.json, ip(request)
        )
        return json(created, status=201)

    return bp
