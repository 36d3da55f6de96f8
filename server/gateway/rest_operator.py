"""Platform operator REST (SaaS mode): log in, list and create tenants, manage operators
(list, disable, enable, reset a password) and read the platform's login log and audit
(``_platform``). With its token an operator also uses every admin route of a tenant it
names (X-Steady-Tenant or ?tenant=)."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from server.admin import operator_accounts, operators
from server.admin.auth import ClientInfo, LoginPolicy
from server.config import DeploymentMode
from server.errors import BadRequest, NotFound
from server.gateway import api_bodies
from server.gateway.auth import require_operator
from server.gateway.context import Services
from server.gateway.net import client_ip
from server.gateway.openapi import no_body, query_filters, request_body, response_body
from server.gateway.rest_admin import AUDIT_FILTERS, LOGIN_FILTERS, filter_args


def build_operator_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_operator", url_prefix="/api/v1")
    settings = services.settings

    def ip(request: Request) -> str:
        return client_ip(request, settings)

    @bp.post("/operator/login", ctx_access="public")
    @request_body(operators.OperatorLogin)
    @response_body(api_bodies.OperatorLoginAnswer)
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
            operators.do_create_tenant, claims, request.json, ip(request), user_agent(request)
        )
        return json(created, status=201)

    def user_agent(request: Request) -> str:
        return request.headers.get("user-agent", "")[:500]

    async def platform(request: Request) -> Any:
        claims = await require_operator(services, request)
        return await services.store.run(operators.platform_actor, claims, user_agent(request))

    @bp.get("/operators", ctx_access="operator")
    async def get_operators(request: Request) -> HTTPResponse:
        """Every platform operator, disabled ones included."""
        await platform(request)
        return json({"operators": await services.store.run(operator_accounts.list_operators)})

    async def set_disabled(request: Request, operator_id: str, disabled: bool) -> HTTPResponse:
        actor = await platform(request)
        return json(
            await services.store.run(
                operator_accounts.set_disabled, actor, operator_id, disabled, ip(request)
            )
        )

    @bp.post("/operators/<operator_id:str>/disable", ctx_access="operator")
    @no_body
    async def post_operator_disable(request: Request, operator_id: str) -> HTTPResponse:
        """Disable an operator: it can no longer log in and its sessions end (not oneself)."""
        return await set_disabled(request, operator_id, True)

    @bp.post("/operators/<operator_id:str>/enable", ctx_access="operator")
    @no_body
    async def post_operator_enable(request: Request, operator_id: str) -> HTTPResponse:
        """Enable an operator again (it logs in anew: its old sessions stay ended)."""
        return await set_disabled(request, operator_id, False)

    @bp.post("/operators/<operator_id:str>/password", ctx_access="operator")
    @request_body(operator_accounts.OperatorPassword)
    async def post_operator_password(request: Request, operator_id: str) -> HTTPResponse:
        """Set an operator's password (at least 12 characters); its sessions end."""
        actor = await platform(request)
        return json(
            await services.store.run(
                operator_accounts.reset_password, actor, operator_id, request.json, ip(request)
            )
        )

    @bp.get("/platform/login-log", ctx_access="operator")
    @query_filters(LOGIN_FILTERS)
    async def get_platform_login_log(request: Request) -> HTTPResponse:
        """Operators' login attempts, newest first (filters and paging as /login-log)."""
        actor = await platform(request)
        return json(
            await services.store.run(
                operator_accounts.platform_login_log, actor, filter_args(request, LOGIN_FILTERS)
            )
        )

    @bp.get("/platform/audit", ctx_access="operator")
    @query_filters(AUDIT_FILTERS)
    async def get_platform_audit(request: Request) -> HTTPResponse:
        """What was done to operators, newest first (filters and paging as /audit)."""
        actor = await platform(request)
        return json(
            await services.store.run(
                operator_accounts.platform_audit, actor, filter_args(request, AUDIT_FILTERS)
            )
        )

    return bp
