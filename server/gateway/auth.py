"""Who is calling a REST route: the bearer token, checked for kind, tenant and revocation."""

from __future__ import annotations

from sanic import Request

from server.admin.auth import agent_actor
from server.chat.records import Actor
from server.errors import Forbidden, Unauthorized
from server.gateway.context import Services
from server.storage.models import Role


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("authentication required")
    return token.strip()


async def require_agent(services: Services, request: Request, *, role: Role | None = None) -> Actor:
    """The calling agent (or admin); a visitor's valid token is 403, anything else 401."""
    token = _bearer(request)
    try:
        claims = services.signer.verify(token, "agent")
    except Unauthorized:
        try:
            services.signer.verify(token, "visitor")
        except Unauthorized:
            raise Unauthorized("invalid or expired token") from None
        raise Forbidden("this resource is for agents") from None
    actor = await services.store.run(agent_actor, claims)
    if role is Role.ADMIN and actor.role != Role.ADMIN.value:
        raise Forbidden("this resource is for admins")
    return actor
