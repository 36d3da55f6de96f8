"""Is anyone there? Working hours and presence for the visitor session, the pre-chat form,
and what a conversation gets when it starts (department, offline flag, greeting)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from server.errors import BadRequest, ErrorCode, Forbidden
from server.foundation.sites import find_site, origin_allowed
from server.kernel.enums import AgentStatus
from server.routing.hours import Schedule
from server.routing.settings import prechat_of
from server.storage.guard import TenantScope
from server.storage.models import Agent, Conversation, Department, Site, Visitor
from server.times import iso_time

AFTER_HOURS = "after_hours"
NO_AGENTS_ONLINE = "no_agents_online"


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def availability(scope: TenantScope, site: Site, now: dt.datetime) -> dict[str, Any]:
    """``{"open", "reason", "message", "next_open"}`` as the session answers it."""
    schedule = Schedule.parse(json.loads(site.hours)) if site.hours else None
    reason = None
    next_open = None
    if schedule is not None and not schedule.is_open(now):
        reason = AFTER_HOURS
        opens = schedule.next_open(now)
        next_open = iso_time(opens)
    elif not _anyone_online(scope):
        reason = NO_AGENTS_ONLINE
    return {
        "open": reason is None,
        "reason": reason,
        "message": site.welcome_message if reason is None else site.after_hours_message,
        "next_open": next_open,
    }


def _anyone_online(scope: TenantScope) -> bool:
    query = scope.select(Agent, Agent.id).where(
        Agent.status == AgentStatus.ONLINE.value,
        Agent.disabled == False,  # noqa: E712
    )
    return query.first() is not None


# -- the visitor session -------------------------------------------------------------


def check_department(site_key: object, department: object, origin: str | None) -> str | None:
    """The pre-chat department, validated before a session is made: an id of the site's
    tenant, else 400 (a foreign id is refused exactly like an unknown one). A refused
    origin is refused first, so it cannot probe department ids."""
    if department is None or department == "":
        return None
    site = find_site(site_key)
    if not origin_allowed(site, origin):
        raise Forbidden("this origin may not use the site", code=ErrorCode.ORIGIN_NOT_ALLOWED)
    if not isinstance(department, str) or len(department) > 26:
        raise BadRequest("unknown department")
    found = TenantScope(site.tenant_id).get_or_none(Department, Department.id == department)
    if found is None:
        raise BadRequest("unknown department")
    return found.id


def session_extras(
    site_key: str, visitor_id: str, department: str | None, now: dt.datetime
) -> dict[str, Any]:
    """What the session response gains: availability and the pre-chat form; remembers
    the chosen department for the visitor's next conversation."""
    site = find_site(site_key)
    scope = TenantScope(site.tenant_id)
    if department is not None:
        scope.update(Visitor, department_id=department).where(Visitor.id == visitor_id).execute()
    prechat = prechat_of(site)
    if prechat["enabled"] and "department" in prechat["fields"]:
        rows = scope.select(Department).order_by(Department.name)
        prechat["departments"] = [{"id": d.id, "name": d.name} for d in rows]
    return {"availability": availability(scope, site, now), "prechat": prechat}


# -- a conversation starts -----------------------------------------------------------


def start_conversation(tenant_id: str, conv: str, now: dt.datetime) -> str | None:
    """On the first visitor message: queue it in the visitor's chosen department, flag it
    offline when nobody can answer now, and return the greeting to send (or None)."""
    scope = TenantScope(tenant_id)
    row = scope.get_or_none(Conversation, Conversation.id == conv)
    if row is None:
        return None
    site = scope.get_or_none(Site, Site.id == row.site_id)
    if site is None:
        return None
    status = availability(scope, site, now)
    values: dict[str, Any] = {"offline": not status["open"]}
    if row.department_id is None:
        visitor = scope.get_or_none(Visitor, Visitor.id == row.visitor_id)
        if visitor is not None and visitor.department_id:
            chosen = scope.get_or_none(Department, Department.id == visitor.department_id)
            if chosen is not None:  # deleted since the visitor chose it: the tenant queue
                values["department_id"] = chosen.id
    scope.update(Conversation, **values).where(Conversation.id == conv).execute()
    message: str | None = status["message"]
    return message or None
