"""Linking chat-app users to agents (docs/bridges.md): one-time link codes and the links.

An agent asks for a code (``do_issue_link_code``: 60 random bits in Crockford base32, shown
as ``XXXX-XXXX-XXXX``, valid for ten minutes, single use, stored as a SHA-256 hash; a new
code replaces the agent's unused ones) and says it to the bridge, which claims it for the
chat-app user who said it (``do_claim_link_code``). Only a bridge of the agent's tenant can
find the code. Failed claims are counted on the bridge row: past ``CLAIM_FAILURES_MAX`` in
``CLAIM_WINDOW_MS`` every claim of that bridge is refused (429) until the window ends, so
a guesser gets a handful of tries per ten minutes against a space of 2**60.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.admin.bridges import access_bridge, cli_actor
from server.errors import (
    BadRequest,
    ErrorCode,
    Forbidden,
    NotFound,
    SteadyError,
    TooManyRequests,
    Unauthorized,
)
from server.foundation import audit
from server.foundation.tx import admin_transaction
from server.foundation.validation import iso, parse
from server.kernel.actors import Actor
from server.kernel.enums import BridgeKind, SenderType
from server.storage.database import is_mysql
from server.storage.guard import TenantScope
from server.storage.models import Agent, Bridge, BridgeLink, LinkCode, utcnow
from server.times import iso_ms

log = logging.getLogger(__name__)

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_CHARS = 12  # 60 bits
CODE_GROUP = 4
CLAIM_FAILURES_MAX = 10
CLAIM_WINDOW_MS = 10 * 60 * 1000
# What an external user id looks like, per bridge kind (BRIDGES.md §1): Slack
# "<team_id>:<user_id>", Telegram the numeric user id. A kind without an entry links nobody.
EXTERNAL_USER = {
    BridgeKind.SLACK.value: re.compile(r"^[A-Za-z0-9_.-]{1,64}:[A-Za-z0-9_.-]{1,64}$"),
    BridgeKind.TELEGRAM.value: re.compile(r"^[0-9]{1,20}$"),
}
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


class BadLinkCode(SteadyError):
    code, http_status = ErrorCode.BAD_LINK_CODE, 400


class LinkClaim(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=64)
    external_user: str = Field(min_length=1, max_length=191)


def new_code() -> str:
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_CHARS))
    return "-".join(chars[i : i + CODE_GROUP] for i in range(0, CODE_CHARS, CODE_GROUP))


def normalize_code(raw: str) -> str | None:
    """The code as typed (any case, dashes or spaces, O for 0, I or L for 1), or None."""
    cleaned = re.sub(r"[\s-]", "", raw).upper().translate(_CONFUSABLE)
    if len(cleaned) != CODE_CHARS or any(ch not in CODE_ALPHABET for ch in cleaned):
        return None
    return cleaned


def code_hash(normalized: str) -> str:
    return hashlib.sha256(normalized.encode()).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- issuing -------------------------------------------------------------------------------


def do_issue_link_code(actor: Actor, agent_id: str, ttl_secs: int, ip: str) -> dict[str, str]:
    """A fresh code for ``agent_id`` (its unused older codes stop working)."""
    scope = TenantScope(actor.tenant_id)
    code = new_code()
    expires_ms = _now_ms() + ttl_secs * 1000
    with admin_transaction():
        agent = scope.get_or_none(Agent, Agent.id == agent_id)
        if agent is None or agent.disabled:
            raise NotFound("no such agent")
        scope.delete(LinkCode).where(
            LinkCode.agent_id == agent.id, LinkCode.used_at.is_null()
        ).execute()
        scope.create(
            LinkCode,
            code_hash=code_hash(normalize_code(code) or ""),
            agent_id=agent.id,
            expires_ms=expires_ms,
        )
        audit.record(actor, "bridge.link_code", agent.id, {"expires_ms": expires_ms}, ip)
    return {"code": code, "expires_at": iso_ms(expires_ms)}


def issue_link_code_by_email(tenant_id: str, email: str, ttl_secs: int) -> dict[str, str]:
    """The CLI's ``bridge link-code --tenant T --agent EMAIL``."""
    agent = TenantScope(tenant_id).get_or_none(Agent, Agent.email == email.strip().lower())
    if agent is None or agent.disabled:
        raise NotFound(f"no enabled agent {email} in tenant {tenant_id}")
    return do_issue_link_code(cli_actor(tenant_id), agent.id, ttl_secs, "")


# -- claiming ------------------------------------------------------------------------------


def do_claim_link_code(bridge: Actor, fields: object, ip: str) -> dict[str, str]:
    """Link ``external_user`` (as the bridge names it) to the agent whose code it gave.

    The same user claiming again is linked to the new code's agent instead."""
    data = parse(LinkClaim, fields)
    scope = TenantScope(bridge.tenant_id)
    now_ms = _now_ms()
    refused: str | None = None
    with admin_transaction():
        row = _locked_bridge(scope, bridge.id)
        pattern = EXTERNAL_USER.get(row.kind)
        if pattern is None or not pattern.match(data.external_user):
            raise BadRequest(
                f"external_user is not a {row.kind} user id as docs/bridges.md describes it"
            )
        window_open = now_ms - row.failed_since_ms < CLAIM_WINDOW_MS
        if window_open and row.failed_claims >= CLAIM_FAILURES_MAX:
            raise TooManyRequests(
                "too many wrong link codes from this bridge, try again later",
                code=ErrorCode.TOO_MANY_ATTEMPTS,
            )
        agent = _claim(scope, data.code, now_ms)
        if agent is None:
            failures = row.failed_claims + 1 if window_open else 1
            since = row.failed_since_ms if window_open else now_ms
            scope.update(Bridge, failed_claims=failures, failed_since_ms=since).where(
                Bridge.id == bridge.id
            ).execute()
            audit.record(
                bridge, "bridge.link_refused", bridge.id, {"external_user": data.external_user}, ip
            )
            refused = "unknown, used or expired link code"
        else:
            scope.delete(BridgeLink).where(
                BridgeLink.bridge_id == bridge.id,
                BridgeLink.external_user == data.external_user,
            ).execute()
            scope.create(
                BridgeLink, bridge_id=bridge.id, external_user=data.external_user, agent_id=agent.id
            )
            audit.record(
                bridge,
                "bridge.link",
                bridge.id,
                {"external_user": data.external_user, "agent": agent.id},
                ip,
            )
    if refused is not None:  # raised after the commit: the failure must stay counted
        log.info("bridge %s: refused link code for %s", bridge.id, data.external_user)
        raise BadLinkCode(refused)
    assert agent is not None
    return {"agent_id": agent.id}


def _locked_bridge(scope: TenantScope, bridge_id: str) -> Bridge:
    """The live bridge row, locked until the commit (MySQL; SQLite holds the write lock)."""
    query = scope.select(Bridge).where(Bridge.id == bridge_id)
    if is_mysql():
        query = query.for_update()
    row = query.first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("unknown or revoked bridge token", code=ErrorCode.BAD_TOKEN)
    return row


def _claim(scope: TenantScope, raw_code: str, now_ms: int) -> Agent | None:
    """Use up a live code of this tenant; its enabled agent, or None."""
    normalized = normalize_code(raw_code)
    if normalized is None:
        return None
    query = scope.select(LinkCode).where(LinkCode.code_hash == code_hash(normalized))
    if is_mysql():
        query = query.for_update()  # two claims of one code: the second sees it used
    code = query.first()
    if code is None or code.used_at is not None or code.expires_ms <= now_ms:
        return None
    agent = scope.get_or_none(Agent, Agent.id == code.agent_id)
    if agent is None or agent.disabled:
        return None
    scope.update(LinkCode, used_at=utcnow()).where(LinkCode.code_hash == code.code_hash).execute()
    return agent


# -- links -----------------------------------------------------------------------------------


def _may_read_links(actor: Actor, bridge_id: str) -> None:
    if actor.is_bridge and actor.id != bridge_id:
        raise Forbidden("a bridge may read only its own links")


def list_links(actor: Actor, bridge_id: str) -> dict[str, Any]:
    """Who is linked through a bridge (admins; a bridge for itself)."""
    scope = TenantScope(actor.tenant_id)
    bridge = access_bridge(scope, bridge_id)  # another tenant's: 404, like an unknown one
    _may_read_links(actor, bridge.id)
    links = list(
        scope.select(BridgeLink)
        .where(BridgeLink.bridge_id == bridge.id)
        .order_by(BridgeLink.created_at, BridgeLink.id)
    )
    ids = {link.agent_id for link in links}
    agents = {a.id: a for a in scope.select(Agent).where(Agent.id.in_(ids))} if ids else {}
    return {
        "links": [
            {
                "external_user": link.external_user,
                "agent": (
                    {
                        "id": agent.id,
                        "name": agent.name,
                        "email": agent.email,
                        "disabled": bool(agent.disabled),
                    }
                    if (agent := agents.get(link.agent_id))
                    else {"id": link.agent_id, "name": "", "email": "", "disabled": True}
                ),
                "created_at": iso(link.created_at),
            }
            for link in links
        ]
    }


def do_unlink(actor: Actor, bridge_id: str, external_user: str, ip: str) -> dict[str, str]:
    scope = TenantScope(actor.tenant_id)
    with admin_transaction():
        bridge = access_bridge(scope, bridge_id)
        link = scope.get_or_none(
            BridgeLink,
            BridgeLink.bridge_id == bridge.id,
            BridgeLink.external_user == external_user[:191],
        )
        if link is None:
            raise NotFound("no such link")
        scope.delete(BridgeLink).where(BridgeLink.id == link.id).execute()
        audit.record(
            actor,
            "bridge.unlink",
            bridge.id,
            {"external_user": link.external_user, "agent": link.agent_id},
            ip,
        )
    return {"deleted": link.external_user}


def is_agent_itself(actor: Actor) -> bool:
    """An agent or admin with its own login (not an API key, operator or bridge)."""
    return actor.type is SenderType.AGENT and not actor.api_key and actor.via is None
