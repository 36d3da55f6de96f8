"""Admin reads and writes of routing settings: a department's policy, the tenant default,
a site's working hours, messages and pre-chat form. Every write is audited in its own
transaction. Another tenant's ids answer 404, exactly like unknown ones."""

from __future__ import annotations

import json
from typing import Any

from server.errors import BadRequest, NotFound
from server.foundation.audit import record
from server.foundation.settings import put_setting
from server.foundation.tx import lock_tenant
from server.kernel.actors import Actor
from server.kernel.enums import RoutingPolicy
from server.routing.hours import Schedule
from server.routing.offers import DEFAULT_ROUTING_KEY, Routing, default_routing
from server.storage.database import db
from server.storage.guard import TenantScope
from server.storage.models import Department, Site

OFFER_TIMEOUT_RANGE_SECS = (1, 3600)
MESSAGE_MAX_CHARS = 1000
PRECHAT_FIELDS = ("name", "email", "department")


# -- routing policies ------------------------------------------------------------------


def _object(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def check_routing(data: dict[str, Any]) -> Routing:
    policy = data.get("policy")
    if not isinstance(policy, str) or policy not in {p.value for p in RoutingPolicy}:
        raise BadRequest("policy must be manual, round_robin or least_loaded")
    timeout = data.get("offer_timeout_secs", 30)
    low, high = OFFER_TIMEOUT_RANGE_SECS
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not low <= timeout <= high:
        raise BadRequest(f"offer_timeout_secs must be an integer from {low} to {high}")
    return Routing(str(policy), timeout)


def _department(scope: TenantScope, department_id: str) -> Department:
    department = scope.get_or_none(Department, Department.id == department_id)
    if department is None:
        raise NotFound("no such department")
    return department


def get_department_routing(actor: Actor, department_id: str) -> dict[str, Any]:
    department = _department(TenantScope(actor.tenant_id), department_id)
    routing = Routing(department.policy, int(department.offer_timeout_secs))
    return {"department": department.id, **routing.to_json()}


def set_department_routing(
    actor: Actor, department_id: str, data: dict[str, Any], ip: str
) -> dict[str, Any]:
    scope = TenantScope(actor.tenant_id)
    with db.atomic():
        _department(scope, department_id)  # first: another tenant's id is 404, not 400
        routing = check_routing(_object(data))
        scope.update(
            Department, policy=routing.policy, offer_timeout_secs=routing.offer_timeout_secs
        ).where(Department.id == department_id).execute()
        record(actor, "department.routing", department_id, routing.to_json(), ip)
    return {"department": department_id, **routing.to_json()}


def get_default_routing(actor: Actor) -> dict[str, Any]:
    return default_routing(TenantScope(actor.tenant_id)).to_json()


def set_default_routing(actor: Actor, data: dict[str, Any], ip: str) -> dict[str, Any]:
    routing = check_routing(_object(data))
    scope = TenantScope(actor.tenant_id)
    value = json.dumps(routing.to_json())
    with db.atomic():
        lock_tenant(actor.tenant_id)
        put_setting(scope, DEFAULT_ROUTING_KEY, value)
        record(actor, "routing.default", DEFAULT_ROUTING_KEY, routing.to_json(), ip)
    return routing.to_json()


# -- sites: hours and messages ------------------------------------------------------


def _site(scope: TenantScope, site_id: str) -> Site:
    site = scope.get_or_none(Site, Site.id == site_id)
    if site is None:
        raise NotFound("no such site")
    return site


def hours_of(site: Site) -> dict[str, Any]:
    return {
        "site": site.id,
        "hours": json.loads(site.hours) if site.hours else None,
        "welcome_message": site.welcome_message,
        "after_hours_message": site.after_hours_message,
    }


def _message(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MESSAGE_MAX_CHARS:
        raise BadRequest(f"{key} must be text of at most {MESSAGE_MAX_CHARS} characters")
    return value


def get_site_hours(actor: Actor, site_id: str) -> dict[str, Any]:
    return hours_of(_site(TenantScope(actor.tenant_id), site_id))


def set_site_hours(actor: Actor, site_id: str, data: dict[str, Any], ip: str) -> dict[str, Any]:
    """Replace the site's hours (``null``: always open) and its two messages."""
    scope = TenantScope(actor.tenant_id)
    with db.atomic():
        _site(scope, site_id)  # first: another tenant's id is 404, not 400
        data = _object(data)
        raw = data.get("hours")
        hours = None if raw is None else json.dumps(Schedule.parse(raw).to_json())
        values = {
            "hours": hours,
            "welcome_message": _message(data, "welcome_message"),
            "after_hours_message": _message(data, "after_hours_message"),
        }
        scope.update(Site, **values).where(Site.id == site_id).execute()
        record(actor, "site.hours", site_id, values, ip)
        site = _site(scope, site_id)
    return hours_of(site)


# -- sites: pre-chat form ------------------------------------------------------------


def prechat_of(site: Site) -> dict[str, Any]:
    data = json.loads(site.prechat) if site.prechat else {}
    return {
        "enabled": bool(data.get("enabled", False)),
        "fields": list(data.get("fields", [])),
        "required": list(data.get("required", [])),
    }


def check_prechat(data: dict[str, Any]) -> dict[str, Any]:
    enabled = data.get("enabled", False)
    fields = data.get("fields", [])
    required = data.get("required", [])
    if not isinstance(enabled, bool):
        raise BadRequest("enabled must be true or false")
    for name, value in (("fields", fields), ("required", required)):
        if not isinstance(value, list) or any(f not in PRECHAT_FIELDS for f in value):
            raise BadRequest(f"{name} must list some of {', '.join(PRECHAT_FIELDS)}")
    if set(required) - set(fields):
        raise BadRequest("every required field must also be in fields")
    ordered = [f for f in PRECHAT_FIELDS if f in fields]
    return {
        "enabled": enabled,
        "fields": ordered,
        "required": [f for f in ordered if f in required],
    }


def get_site_prechat(actor: Actor, site_id: str) -> dict[str, Any]:
    return {"site": site_id, **prechat_of(_site(TenantScope(actor.tenant_id), site_id))}


def set_site_prechat(actor: Actor, site_id: str, data: dict[str, Any], ip: str) -> dict[str, Any]:
    scope = TenantScope(actor.tenant_id)
    with db.atomic():
        _site(scope, site_id)  # first: another tenant's id is 404, not 400
        config = check_prechat(_object(data))
        scope.update(Site, prechat=json.dumps(config)).where(Site.id == site_id).execute()
        record(actor, "site.prechat", site_id, config, ip)
    return {"site": site_id, **config}
