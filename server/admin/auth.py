"""Visitor sessions and agent login: who you are, proven, with every attempt logged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import peewee as pw

from server.admin.bridges import bridge_profile
from server.admin.login import ClientInfo, LoginPolicy, PasswordLogin, password_login
from server.errors import BadRequest, ErrorCode, Forbidden, Unauthorized
from server.foundation.sites import find_site, origin_allowed
from server.ids import new_id
from server.kernel.actors import Actor
from server.kernel.enums import SenderType
from server.security.identity import verify_user_hash
from server.security.tokens import TokenClaims, TokenSigner
from server.storage.database import db
from server.storage.guard import TenantScope, cross_tenant
from server.storage.models import Agent, ApiKey, Conversation, Site, Tenant, Visitor, utcnow

VISIT_GAP = dt.timedelta(minutes=30)  # the usual web-analytics session timeout

_VISITOR_TEXT_LIMITS = {
    "name": 200,
    "email": 254,
    "page_url": 1000,
    "referrer": 1000,
    "language": 35,
}


def visitor_origin_allowed(visitor: Actor, origin: str | None) -> bool:
    """May the visitor's WebSocket come from this page? (its site still exists and lists it)"""
    site = TenantScope(visitor.tenant_id).get_or_none(Site, Site.id == visitor.site_id)
    return site is not None and origin_allowed(site, origin)


def visitor_session(
    signer: TokenSigner,
    fields: dict[str, Any],
    client: ClientInfo,
    *,
    ttl_secs: int,
    default_hash_max_age: int,
) -> dict[str, Any]:
    site = find_site(fields.get("site_key"))
    if not origin_allowed(site, client.origin):
        raise Forbidden("this origin may not use the site", code=ErrorCode.ORIGIN_NOT_ALLOWED)
    scope = TenantScope(site.tenant_id)
    details = {
        key: value[:limit]
        for key, limit in _VISITOR_TEXT_LIMITS.items()
        if isinstance(value := fields.get(key), str)
    }
    visitor: Visitor | None = None
    user_id = fields.get("user_id")
    if user_id is not None:
        if not isinstance(user_id, str) or not user_id or len(user_id) > 191:
            raise Unauthorized("user_id must be a string", code=ErrorCode.BAD_USER_HASH)
        verify_user_hash(
            site.secret,
            user_id,
            fields.get("user_hash"),
            fields.get("user_ts"),
            max_age_secs=site.user_hash_max_age_secs or default_hash_max_age,
            require_timed=site.require_timed_hash,
        )
        visitor = scope.get_or_none(Visitor, Visitor.site_id == site.id, Visitor.user_id == user_id)
    elif fields.get("token"):
        visitor = _visitor_from_token(signer, scope, site, fields["token"])
        if visitor is not None and visitor.user_id is not None:
            # A verified identity is only restored by proving it again.
            visitor = None

    with db.atomic():
        if visitor is None:
            visitor = _create_visitor(scope, site, user_id, details, client)
        else:
            now = utcnow()
            # A visit is a return after a pause, not every page load of one browsing session.
            new_visit = visitor.last_seen_at is None or visitor.last_seen_at < now - VISIT_GAP
            scope.update(
                Visitor,
                last_seen_at=now,
                visit_count=Visitor.visit_count + (1 if new_visit else 0),
                ip=client.ip,
                user_agent=client.user_agent[:500],
                **details,
            ).where(Visitor.id == visitor.id).execute()
            visitor = scope.get_or_none(Visitor, Visitor.id == visitor.id)
    assert visitor is not None
    token = signer.issue(
        "visitor", tenant=site.tenant_id, subject=visitor.id, site=site.id, ttl_secs=ttl_secs
    )
    open_conv = scope.get_or_none(Conversation, Conversation.open_key == visitor.id)
    return {
        "visitor_id": visitor.id,
        "token": token.token,
        "expires_at": token.expires_iso,
        "conversation": open_conv.id if open_conv else None,
    }


def _visitor_from_token(
    signer: TokenSigner, scope: TenantScope, site: Site, token: object
) -> Visitor | None:
    try:
        claims = signer.verify(token, "visitor")
    except Unauthorized:
        return None  # an expired token just starts a new visitor
    if claims.tenant != site.tenant_id or claims.site != site.id:
        return None
    return scope.get_or_none(Visitor, Visitor.id == claims.subject)


def _create_visitor(
    scope: TenantScope, site: Site, user_id: str | None, details: dict[str, str], client: ClientInfo
) -> Visitor:
    try:
        with db.atomic():
            return scope.create(
                Visitor,
                id=new_id(),
                site_id=site.id,
                user_id=user_id,
                ip=client.ip,
                user_agent=client.user_agent[:500],
                **details,
            )
    except pw.IntegrityError:
        # The same verified user opened two sessions at once: both get the same visitor.
        existing = scope.get_or_none(
            Visitor, Visitor.site_id == site.id, Visitor.user_id == user_id
        )
        if existing is None:
            raise
        return existing


def visitor_actor(claims: TokenClaims) -> Actor:
    scope = TenantScope(claims.tenant)
    visitor = scope.get_or_none(Visitor, Visitor.id == claims.subject)
    if visitor is None:
        raise Unauthorized("unknown visitor", code=ErrorCode.BAD_TOKEN)
    if scope.get_or_none(Site, Site.id == visitor.site_id) is None:
        raise Unauthorized("this site no longer exists", code=ErrorCode.BAD_TOKEN)
    return Actor(
        SenderType.VISITOR,
        visitor.id,
        visitor.tenant_id,
        visitor.name or "Visitor",
        site_id=visitor.site_id,
    )


def agent_actor(claims: TokenClaims) -> Actor:
    scope = TenantScope(claims.tenant)
    agent = scope.get_or_none(Agent, Agent.id == claims.subject)
    if agent is None or agent.disabled or agent.token_version != claims.version:
        raise Unauthorized("token revoked", code=ErrorCode.BAD_TOKEN)
    return Actor(SenderType.AGENT, agent.id, agent.tenant_id, agent.name, role=agent.role)


def api_key_actor(key_id: str) -> tuple[Actor, str] | None:
    """The actor of a live API key and its secret; None for an unknown or revoked key."""
    if not key_id or len(key_id) > 40:
        return None
    # The key id is what tells us the tenant: this lookup is the one place it is found.
    with cross_tenant():
        key = ApiKey.select().where(ApiKey.id == key_id, ApiKey.revoked_at.is_null()).first()
    if key is None:
        return None
    actor = Actor(
        SenderType.AGENT, key.id, key.tenant_id, key.name or "API key", role=key.role, api_key=True
    )
    return actor, key.secret


def agent_profile(actor: Actor) -> dict[str, Any]:
    if actor.type is SenderType.OPERATOR:
        return {
            "type": "operator",
            "id": actor.id,
            "name": actor.name,
            "role": "operator",
            "tenant": actor.tenant_id,
        }
    if actor.is_bridge:
        return bridge_profile(actor)
    if actor.api_key:
        return {
            "type": "api_key",
            "id": actor.id,
            "name": actor.name,
            "role": actor.role,
            "tenant": actor.tenant_id,
        }
    agent = TenantScope(actor.tenant_id).get_or_none(Agent, Agent.id == actor.id)
    if agent is None:
        raise Unauthorized("unknown agent", code=ErrorCode.BAD_TOKEN)
    return {
        "type": "agent",
        "id": agent.id,
        "name": agent.name,
        "email": agent.email,
        "role": agent.role,
        "tenant": agent.tenant_id,
        "status": agent.status,
    }


def agent_login(
    signer: TokenSigner, fields: dict[str, Any], client: ClientInfo, policy: LoginPolicy
) -> dict[str, Any]:
    tenant_id, email, password = (fields.get(k) for k in ("tenant", "email", "password"))
    if not all(isinstance(v, str) and v for v in (tenant_id, email, password)):
        raise BadRequest("tenant, email and password are required")
    assert isinstance(tenant_id, str) and isinstance(email, str) and isinstance(password, str)
    email = email.strip().lower()[:254]
    scope = TenantScope(tenant_id[:64])

    def find() -> Agent | None:
        if Tenant.get_or_none(Tenant.id == scope.tenant_id) is None:
            return None
        return scope.get_or_none(Agent, Agent.email == email)

    login = PasswordLogin("agent", scope, "wrong tenant, email or password")
    agent, token = password_login(signer, login, email, password, find, client, policy)
    return {
        "token": token.token,
        "expires_at": token.expires_iso,
        "agent": {"id": agent.id, "name": agent.name, "email": agent.email, "role": agent.role},
    }
