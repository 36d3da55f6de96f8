"""Admin REST (role admin, caller's own tenant): sites, departments, settings, API keys,
and the audit and login logs. Agents are in ``rest_admin_agents``.

Handlers authenticate first, then parse, call one admin action and reply. Request bodies
are documented for OpenAPI from the same pydantic models the actions validate with.
"""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from server.admin import apikeys, departments, logs, sites
from server.foundation import settings as tenant_settings
from server.gateway.auth import require_admin
from server.gateway.context import Services
from server.gateway.net import client_ip
from server.gateway.openapi import no_body, query_filters, request_body

AUDIT_FILTERS = {
    "actor": str,
    "action": str,
    "target": str,
    "since": str,
    "until": str,
    "limit": int,
    "before": int,
}
LOGIN_FILTERS = {
    "username": str,
    "ip": str,
    "success": bool,
    "since": str,
    "until": str,
    "limit": int,
    "before": int,
}


def filter_args(request: Request, filters: dict[str, type]) -> dict[str, str | None]:
    """The query's value (or None) for each filter a log route takes."""
    return {name: request.args.get(name) for name in filters}


def build_admin_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_admin", url_prefix="/api/v1")
    store = services.store

    def ip(request: Request) -> str:
        return client_ip(request, services.settings)

    # -- sites ---------------------------------------------------------------------
    @bp.get("/sites", ctx_access="admin")
    async def get_sites(request: Request) -> HTTPResponse:
        """List the tenant's sites (never their secrets)."""
        actor = await require_admin(services, request)
        return json({"sites": await store.run(sites.list_sites, actor)})

    @bp.post("/sites", ctx_access="admin")
    @request_body(sites.SiteCreate)
    async def post_site(request: Request) -> HTTPResponse:
        """Create a site; the answer carries its site_secret, shown this once."""
        actor = await require_admin(services, request)
        created = await store.run(sites.do_create_site, actor, request.json, ip(request))
        return json(created, status=201)

    @bp.get("/sites/<site_key:str>", ctx_access="admin")
    async def get_site(request: Request, site_key: str) -> HTTPResponse:
        """One site (without its secret)."""
        actor = await require_admin(services, request)
        return json(await store.run(sites.get_site, actor, site_key))

    @bp.patch("/sites/<site_key:str>", ctx_access="admin")
    @request_body(sites.SiteUpdate)
    async def patch_site(request: Request, site_key: str) -> HTTPResponse:
        """Change a site's name, allowed origins, identity-hash rules, AI mode or CSAT offer."""
        actor = await require_admin(services, request)
        return json(
            await store.run(sites.do_update_site, actor, site_key, request.json, ip(request))
        )

    @bp.post("/sites/<site_key:str>/rotate-secret", ctx_access="admin")
    @no_body
    async def post_rotate_secret(request: Request, site_key: str) -> HTTPResponse:
        """Replace the site secret; the old one stops verifying user_hash at once."""
        actor = await require_admin(services, request)
        return json(await store.run(sites.do_rotate_secret, actor, site_key, ip(request)))

    @bp.delete("/sites/<site_key:str>", ctx_access="admin")
    async def delete_site(request: Request, site_key: str) -> HTTPResponse:
        """Delete a site: its widget stops at once, its conversations stay."""
        actor = await require_admin(services, request)
        await services.admin.delete_site(actor, site_key, ip(request))
        return json({"deleted": site_key})

    # -- departments -----------------------------------------------------------------
    @bp.post("/departments", ctx_access="admin")
    @request_body(departments.DepartmentFields)
    async def post_department(request: Request) -> HTTPResponse:
        """Create a department."""
        actor = await require_admin(services, request)
        created = await store.run(
            departments.do_create_department, actor, request.json, ip(request)
        )
        return json(created, status=201)

    @bp.patch("/departments/<department_id:str>", ctx_access="admin")
    @request_body(departments.DepartmentFields)
    async def patch_department(request: Request, department_id: str) -> HTTPResponse:
        """Rename a department."""
        actor = await require_admin(services, request)
        return json(
            await store.run(
                departments.do_rename_department, actor, department_id, request.json, ip(request)
            )
        )

    @bp.delete("/departments/<department_id:str>", ctx_access="admin")
    async def delete_department(request: Request, department_id: str) -> HTTPResponse:
        """Delete a department; its agents and conversations are detached, not deleted."""
        actor = await require_admin(services, request)
        detached = await store.run(
            departments.do_delete_department, actor, department_id, ip(request)
        )
        return json({"deleted": department_id, "detached": detached})

    # -- settings --------------------------------------------------------------------
    @bp.get("/settings", ctx_access="admin")
    async def get_settings(request: Request) -> HTTPResponse:
        """The tenant's settings (limits, masking); unset limits use the node's defaults."""
        actor = await require_admin(services, request)
        current = await store.run(tenant_settings.load_settings, actor.tenant_id)
        return json(current.model_dump())

    @bp.put("/settings", ctx_access="admin")
    @request_body(tenant_settings.TenantSettings)
    async def put_settings(request: Request) -> HTTPResponse:
        """Change settings sections (partial objects merge); unknown keys are 400."""
        actor = await require_admin(services, request)
        updated = await services.admin.update_settings(actor, request.json, ip(request))
        return json(updated.model_dump())

    # -- API keys --------------------------------------------------------------------
    @bp.get("/api-keys", ctx_access="admin")
    async def get_api_keys(request: Request) -> HTTPResponse:
        """List API keys (never their secrets)."""
        actor = await require_admin(services, request)
        return json({"api_keys": await store.run(apikeys.list_api_keys, actor)})

    @bp.post("/api-keys", ctx_access="admin")
    @request_body(apikeys.ApiKeyCreate)
    async def post_api_key(request: Request) -> HTTPResponse:
        """Create an API key; the answer carries its secret, shown this once."""
        actor = await require_admin(services, request)
        created = await store.run(apikeys.do_create_api_key, actor, request.json, ip(request))
        return json(created, status=201)

    @bp.delete("/api-keys/<key_id:str>", ctx_access="admin")
    async def delete_api_key(request: Request, key_id: str) -> HTTPResponse:
        """Revoke an API key: signed requests with it fail from now on."""
        actor = await require_admin(services, request)
        return json(await store.run(apikeys.do_revoke_api_key, actor, key_id, ip(request)))

    # -- logs ------------------------------------------------------------------------
    @bp.get("/audit", ctx_access="admin")
    @query_filters(AUDIT_FILTERS)
    async def get_audit(request: Request) -> HTTPResponse:
        """The audit log, newest first (filters: actor, action, target, since, until)."""
        actor = await require_admin(services, request)
        return json(await store.run(logs.list_audit, actor, filter_args(request, AUDIT_FILTERS)))

    @bp.get("/login-log", ctx_access="admin")
    @query_filters(LOGIN_FILTERS)
    async def get_login_log(request: Request) -> HTTPResponse:
        """The login log, newest first (filters: username, ip, success, since, until)."""
        actor = await require_admin(services, request)
        return json(await store.run(logs.list_logins, actor, filter_args(request, LOGIN_FILTERS)))

    return bp
