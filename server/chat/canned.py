"""Canned replies: tenant-wide (admins write, every agent reads) and personal (each agent
their own, invisible to everyone else). A shortcut is unique within its scope.

Placeholders (``{visitor.name}``, ...) are expanded in one pass over the template:
a value is never scanned again, so a visitor named ``{agent.name}`` stays just that,
and there is no ``str.format`` to reach attributes through.
"""

from __future__ import annotations

import re
from typing import Any

import peewee as pw

from server.chat.labels import access_conversation_row
from server.errors import BadRequest, Conflict, ErrorCode, Forbidden, NotFound
from server.foundation import audit
from server.foundation.settings import tenant_settings
from server.ids import new_id
from server.kernel.actors import Actor
from server.kernel.enums import Role
from server.storage.database import db, is_mysql
from server.storage.guard import TenantScope
from server.storage.models import Agent, CannedReply, Visitor, utcnow
from server.times import iso_time
from steadywire.placeholders import expand

BODY_MAX_CHARS = 4000
SHORTCUT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
TENANT, PERSONAL = "tenant", "personal"


def _wire(row: CannedReply) -> dict[str, Any]:
    return {
        "id": row.id,
        "scope": PERSONAL if row.agent_id else TENANT,
        "shortcut": row.shortcut,
        "body": row.body,
        "created_at": iso_time(row.created_at),
        "updated_at": iso_time(row.updated_at),
    }


def _shortcut(value: object) -> str:
    if not isinstance(value, str):
        raise BadRequest("shortcut must be a string")
    shortcut = value.strip().removeprefix("/")
    if not SHORTCUT_RE.fullmatch(shortcut):
        raise BadRequest("shortcut: 1..64 letters, digits, '_', '.' or '-'")
    return shortcut


def _body(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("body must be a non-empty string")
    if len(value) > BODY_MAX_CHARS:
        raise BadRequest(f"body must have at most {BODY_MAX_CHARS} characters")
    return value


def _owner(actor: Actor) -> str:
    """Whose personal replies: an agent's own; API keys have none."""
    if actor.api_key:
        raise BadRequest("API keys have no personal canned replies")
    return actor.id


def list_canned(actor: Actor) -> list[dict[str, Any]]:
    scope = TenantScope(actor.tenant_id)
    visible = CannedReply.agent_id.is_null()
    if not actor.api_key:
        visible = visible | (CannedReply.agent_id == actor.id)
    rows = scope.select(CannedReply).where(visible).order_by(CannedReply.shortcut).limit(2000)
    return [_wire(row) for row in rows]


def _visible_row(scope: TenantScope, actor: Actor, reply_id: str) -> CannedReply:
    row = scope.get_or_none(CannedReply, CannedReply.id == reply_id)
    # Someone else's personal reply is as unknown as a made-up id.
    if row is None or (row.agent_id is not None and row.agent_id != actor.id):
        raise NotFound("no such canned reply")
    return row


def _check_may_write(actor: Actor, row_agent_id: str | None) -> None:
    if row_agent_id is None and actor.role != Role.ADMIN.value:
        raise Forbidden("only admins change tenant-wide canned replies")


def create_canned(actor: Actor, fields: dict[str, Any], ip: str) -> dict[str, Any]:
    scope_name = fields.get("scope", PERSONAL)
    if scope_name not in (TENANT, PERSONAL):
        raise BadRequest("scope must be tenant or personal")
    agent_id = None if scope_name == TENANT else _owner(actor)
    _check_may_write(actor, agent_id)
    values = {"shortcut": _shortcut(fields.get("shortcut")), "body": _body(fields.get("body"))}
    scope = TenantScope(actor.tenant_id)
    try:
        with db.atomic():
            if agent_id is not None:
                _check_personal_limit(scope, agent_id)
            row = scope.create(
                CannedReply, id=new_id(), agent_id=agent_id, scope_key=agent_id or "", **values
            )
            if agent_id is None:
                audit.record(actor, "canned_reply.create", row.id, values, ip)
    except pw.IntegrityError:
        raise _taken(values["shortcut"]) from None
    return _wire(row)


def _check_personal_limit(scope: TenantScope, agent_id: str) -> None:
    """Refuse a new personal reply past the tenant's ``limits.canned_personal_max`` (call
    inside the creating transaction: on MySQL the agent's row lock queues two creates of
    one agent, on SQLite the write lock does)."""
    limit = tenant_settings(scope.tenant_id).limits.canned_personal_max
    if is_mysql():
        list(scope.select(Agent, Agent.id).where(Agent.id == agent_id).for_update())
    count = scope.select(CannedReply).where(CannedReply.agent_id == agent_id).count()
    if count >= limit:
        raise Conflict(
            f"at most {limit} personal canned replies per agent "
            "(the tenant's limits.canned_personal_max); delete one first",
            code=ErrorCode.LIMIT_REACHED,
        )


def update_canned(actor: Actor, reply_id: str, fields: dict[str, Any], ip: str) -> dict[str, Any]:
    scope = TenantScope(actor.tenant_id)
    changes: dict[str, Any] = {}
    if "shortcut" in fields:
        changes["shortcut"] = _shortcut(fields["shortcut"])
    if "body" in fields:
        changes["body"] = _body(fields["body"])
    if not changes:
        raise BadRequest("nothing to change: give shortcut and/or body")
    try:
        with db.atomic():
            row = _visible_row(scope, actor, reply_id)
            _check_may_write(actor, row.agent_id)
            scope.update(CannedReply, updated_at=utcnow(), **changes).where(
                CannedReply.id == row.id
            ).execute()
            if row.agent_id is None:
                audit.record(actor, "canned_reply.update", row.id, changes, ip)
    except pw.IntegrityError:
        raise _taken(changes.get("shortcut", "")) from None
    return _wire(_visible_row(scope, actor, reply_id))


def delete_canned(actor: Actor, reply_id: str, ip: str) -> None:
    scope = TenantScope(actor.tenant_id)
    with db.atomic():
        row = _visible_row(scope, actor, reply_id)
        _check_may_write(actor, row.agent_id)
        scope.delete(CannedReply).where(CannedReply.id == row.id).execute()
        if row.agent_id is None:
            audit.record(actor, "canned_reply.delete", row.id, {"shortcut": row.shortcut}, ip)


def render_canned(actor: Actor, reply_id: str, conv: object) -> dict[str, Any]:
    """The reply's body with placeholders filled for one conversation of the tenant."""
    if not isinstance(conv, str) or not conv:
        raise BadRequest("conv is required")
    scope = TenantScope(actor.tenant_id)
    row = _visible_row(scope, actor, reply_id)
    conversation = access_conversation_row(scope, conv)
    visitor = scope.get_or_none(Visitor, Visitor.id == conversation.visitor_id)
    agent = None if actor.api_key else scope.get_or_none(Agent, Agent.id == actor.id)
    values = {
        "visitor.name": visitor.name if visitor else "",
        "visitor.email": visitor.email if visitor else "",
        "agent.name": agent.name if agent else actor.name,
        "conversation.id": conversation.id,
    }
    return {"id": row.id, "conv": conversation.id, "body": expand(row.body, values)}


def _taken(shortcut: str) -> Conflict:
    return Conflict(
        f"the shortcut {shortcut!r} is already used in this scope", code=ErrorCode.SHORTCUT_TAKEN
    )
