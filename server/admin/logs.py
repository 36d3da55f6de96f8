"""Reading the audit log and the login log: own tenant, newest first, filtered, paged by id.

Paging: ``limit`` rows (default 50, at most 500) with ``id < before``; the answer's
``next_before`` is the id to pass for the next page, or null at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from server.admin.actor_names import stored_label_name
from server.errors import BadRequest
from server.foundation.validation import iso, parse_time
from server.kernel.actors import Actor
from server.storage.guard import TenantScope
from server.storage.models import AuditLog, LoginLog

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_ID = 2**63 - 1  # a signed 64-bit column: a larger ``before`` overflows the driver


@dataclass(frozen=True)
class Page:
    limit: int
    before: int | None


def page_of(args: dict[str, str | None]) -> Page:
    try:
        limit = int(args.get("limit") or DEFAULT_LIMIT)
        before = int(raw) if (raw := args.get("before")) else None
    except ValueError:
        raise BadRequest("limit and before must be integers") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    if before is not None and not 0 <= before <= MAX_ID:
        raise BadRequest(f"before must be between 0 and {MAX_ID}")
    return Page(limit, before)


def _window(query: Any, column: Any, args: dict[str, str | None]) -> Any:
    since = parse_time("since", args.get("since"))
    until = parse_time("until", args.get("until"))
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column <= until)
    return query


def _paged(query: Any, id_column: Any, page: Page) -> tuple[list[Any], int | None]:
    if page.before is not None:
        query = query.where(id_column < page.before)
    rows = list(query.order_by(id_column.desc()).limit(page.limit + 1))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return rows, (rows[-1].id if more and rows else None)


def list_audit(actor: Actor, args: dict[str, str | None]) -> dict[str, Any]:
    page = page_of(args)
    query = TenantScope(actor.tenant_id).select(AuditLog)
    if value := args.get("actor"):
        # An agent's own actions include those it took through a bridge ("... via bridge:").
        query = query.where((AuditLog.actor == value) | AuditLog.actor.startswith(value + " via "))
    if value := args.get("target"):
        query = query.where(AuditLog.target == value)
    if action := args.get("action"):
        # "agent." lists every agent action; "agent.update" just that one.
        if action.endswith("."):
            query = query.where(AuditLog.action.startswith(action))
        else:
            query = query.where(AuditLog.action == action)
    query = _window(query, AuditLog.created_at, args)
    rows, next_before = _paged(query, AuditLog.id, page)
    names: dict[str, str] = {}  # rows from before migration 11 have no stored name
    entries = [
        {
            "id": row.id,
            "actor": row.actor,
            "actor_name": row.actor_name or stored_label_name(actor.tenant_id, row.actor, names),
            "action": row.action,
            "target": row.target,
            "changes": _summary(row.summary),
            "ip": row.ip,
            "user_agent": row.user_agent,
            "created_at": iso(row.created_at),
        }
        for row in rows
    ]
    return {"entries": entries, "next_before": next_before}


def list_logins(actor: Actor, args: dict[str, str | None]) -> dict[str, Any]:
    page = page_of(args)
    query = TenantScope(actor.tenant_id).select(LoginLog)
    if username := args.get("username"):
        query = query.where(LoginLog.username == username.strip().lower())
    if ip := args.get("ip"):
        query = query.where(LoginLog.ip == ip)
    success = args.get("success")
    if success is not None and success != "":
        if success not in ("true", "false", "1", "0"):
            raise BadRequest("success must be true or false")
        query = query.where(LoginLog.success == (success in ("true", "1")))
    query = _window(query, LoginLog.created_at, args)
    rows, next_before = _paged(query, LoginLog.id, page)
    entries = [
        {
            "id": row.id,
            "username": row.username,
            "ip": row.ip,
            "user_agent": row.user_agent,
            "success": bool(row.success),
            "source": row.source,
            "created_at": iso(row.created_at),
        }
        for row in rows
    ]
    return {"entries": entries, "next_before": next_before}


def _summary(text: str) -> Any:
    try:
        return orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return text  # cut at SUMMARY_MAX_CHARS: shown as the raw text
