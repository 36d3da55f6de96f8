"""Who is calling a REST route: a bearer token (checked for kind, tenant and revocation)
or a tenant backend's signed request (API key, PROTOCOL §3).

Every ``/api`` route also declares its access level as a route context kwarg
(``ctx_access=...``, one of ``ACCESS_LEVELS``); the route-walk test holds each handler
to its declared level (tests/admin/test_route_access.py).
"""

from __future__ import annotations

import dataclasses
from typing import NoReturn

from sanic import Request

from server.admin.auth import agent_actor, api_key_actor, visitor_actor
from server.admin.bridge_links import is_agent_itself
from server.admin.bridges import bridge_actor, is_bridge_token
from server.admin.operators import operator_actor, operator_identity
from server.config import DeploymentMode
from server.errors import BadRequest, ErrorCode, Forbidden, Unauthorized
from server.gateway.context import Services
from server.kernel.actors import Actor
from server.kernel.enums import Role
from server.security.signing import MAX_SKEW_SECS, SignedHeaders, check_signed_request
from server.security.tokens import TokenClaims


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("authentication required")
    return token.strip()


# "bridge": a bridge token only (docs/bridges.md); "agent_self": an agent's or admin's own
# login, for what only a person can do (API keys, operators and bridges get 403). A route
# of any level may also let bridges in with ``ctx_bridge=True`` (their tenant and scope).
# "participant": a visitor or anyone of the tenant who may take part in its conversations
# (agents, admins, API keys, operators; bridges with ctx_bridge); "signed_url": no
# credential but the URL's own signature (attachments' bytes: server/security/attachment_links.py).
# "ai_bridge": an ``ai`` bridge's token only (the AI robot's knowledge and presence).
ACCESS_LEVELS = (
    "public",
    "visitor",
    "agent",
    "admin",
    "operator",
    "bridge",
    "agent_self",
    "participant",
    "signed_url",
    "ai_bridge",
)

SIGNED_HEADERS = ("x-steady-key", "x-steady-timestamp", "x-steady-nonce", "x-steady-signature")


async def _signed_actor(services: Services, request: Request) -> Actor:
    values = [request.headers.get(name, "") for name in SIGNED_HEADERS]
    if not all(values):
        raise Unauthorized(
            "signed requests need X-Steady-Key, -Timestamp, -Nonce and -Signature",
            code=ErrorCode.BAD_SIGNATURE,
        )
    headers = SignedHeaders(*values)
    found = await services.store.run(api_key_actor, headers.key)
    if found is None:
        raise Unauthorized("unknown or revoked API key", code=ErrorCode.BAD_SIGNATURE)
    actor, secret = found
    path = request.path + (f"?{request.query_string}" if request.query_string else "")
    check_signed_request(secret, headers, request.method, path, request.body or b"")
    # Claimed only once the signature holds, so forged requests cannot burn nonces.
    if not await services.nonces.claim(headers.key, headers.nonce, 2 * MAX_SKEW_SECS):
        raise Unauthorized("this nonce was already used", code=ErrorCode.REPLAYED_REQUEST)
    return actor


async def _refuse_bridge(services: Services, token: str, what: str) -> NoReturn:
    """A bridge token where bridges are not let in: 401 unless it is a live one, then 403."""
    await services.store.run(bridge_actor, token)
    raise Forbidden(f"this resource is for {what}, not bridges")


def with_client(actor: Actor, request: Request) -> Actor:
    """The actor with the client's User-Agent, which audit rows record."""
    return dataclasses.replace(actor, user_agent=request.headers.get("user-agent", "")[:500])


async def require_agent(
    services: Services, request: Request, *, role: Role | None = None, bridge: bool = False
) -> Actor:
    """The calling agent, admin or API key; a visitor's valid token is 403, anything else 401.
    ``bridge``: a live bridge token is let in too (as a bridge actor, with its scope)."""
    actor = await _agent_caller(services, request, role=role, bridge=bridge)
    return with_client(actor, request)


async def _agent_caller(
    services: Services, request: Request, *, role: Role | None, bridge: bool
) -> Actor:
    if "x-steady-key" in request.headers:
        actor = await _signed_actor(services, request)
        if role is Role.ADMIN and actor.role != Role.ADMIN.value:
            raise Forbidden("this resource is for admins")
        return actor
    token = _bearer(request)
    if is_bridge_token(token):
        if bridge:
            return await services.store.run(bridge_actor, token)
        await _refuse_bridge(services, token, "agents")
    try:
        claims = services.signer.verify(token, "agent")
    except Unauthorized:
        operator = _operator_claims(services, token)
        if operator is not None:
            return await _operator_in_tenant(services, request, operator)
        try:
            services.signer.verify(token, "visitor")
        except Unauthorized:
            raise Unauthorized("invalid or expired token") from None
        raise Forbidden("this resource is for agents") from None
    actor = await services.store.run(agent_actor, claims)
    if role is Role.ADMIN and actor.role != Role.ADMIN.value:
        raise Forbidden("this resource is for admins")
    return actor


async def require_visitor(services: Services, request: Request) -> Actor:
    """The calling visitor (bearer visitor token); an agent's valid token is 403."""
    token = _bearer(request)
    if is_bridge_token(token):
        await _refuse_bridge(services, token, "visitors")
    try:
        claims = services.signer.verify(token, "visitor")
    except Unauthorized:
        try:
            services.signer.verify(token, "agent")
        except Unauthorized:
            raise Unauthorized("invalid or expired token") from None
        raise Forbidden("this resource is for visitors") from None
    return await services.store.run(visitor_actor, claims)


async def require_participant(services: Services, request: Request) -> Actor:
    """A visitor (its token) or an agent of the tenant (as ``require_agent`` with bridges)."""
    if "x-steady-key" not in request.headers:
        token = _bearer(request)
        if not is_bridge_token(token):
            try:
                claims = services.signer.verify(token, "visitor")
            except Unauthorized:
                pass
            else:
                return with_client(await services.store.run(visitor_actor, claims), request)
    return await require_agent(services, request, bridge=True)


async def require_admin(services: Services, request: Request) -> Actor:
    """An admin of the caller's tenant (agent token or admin API key); agents get 403."""
    return await require_agent(services, request, role=Role.ADMIN)


TENANT_HEADER = "x-steady-tenant"


def _operator_claims(services: Services, token: str) -> TokenClaims | None:
    try:
        claims = services.signer.verify(token, "operator")
    except Unauthorized:
        return None
    if services.settings.mode is not DeploymentMode.SAAS:
        raise Forbidden("operators exist only in SaaS mode")
    return claims


async def _operator_in_tenant(services: Services, request: Request, claims: TokenClaims) -> Actor:
    """An operator acts as an admin of the tenant it names (header or ``?tenant=``)."""
    tenant = request.headers.get(TENANT_HEADER) or request.args.get("tenant") or ""
    if not tenant:
        raise BadRequest("operators name the tenant: X-Steady-Tenant header or ?tenant=")
    return await services.store.run(operator_actor, claims, tenant)


async def require_operator(services: Services, request: Request) -> TokenClaims:
    """A platform operator's token (SaaS mode); agents' and visitors' tokens are 403."""
    if "x-steady-key" in request.headers:
        raise Forbidden("API keys belong to a tenant; this resource is for platform operators")
    token = _bearer(request)
    if is_bridge_token(token):
        await _refuse_bridge(services, token, "platform operators")
    claims = _operator_claims(services, token)
    if claims is None:
        for kind in ("agent", "visitor"):
            try:
                services.signer.verify(token, kind)
            except Unauthorized:
                continue
            raise Forbidden("this resource is for platform operators")
        raise Unauthorized("invalid or expired token")
    await services.store.run(operator_identity, claims)
    return claims


async def require_bridge(services: Services, request: Request) -> Actor:
    """The calling bridge (its bearer token); any other valid credential is 403."""
    if "x-steady-key" not in request.headers:
        token = _bearer(request)
        if is_bridge_token(token):
            return with_client(await services.store.run(bridge_actor, token), request)
    await require_agent(services, request)  # 401 unless a valid credential of some kind
    raise Forbidden("this resource is for bridges")


async def require_agent_itself(services: Services, request: Request) -> Actor:
    """An agent or admin with its own login token: API keys, operators and bridges get 403."""
    actor = await require_agent(services, request)
    if not is_agent_itself(actor):
        raise Forbidden("this resource is for an agent's own login")
    return actor
