"""Agents as an admin manages them: create, change role/capacity/departments, disable,
reset password.

Disabling, changing the role and resetting the password bump ``token_version``: every
token issued before stops working at the next request, and the action in
``server/admin/service.py`` then closes the agent's open WebSockets on every node (the hub
answers ``agent.revoked`` with 4401).
A change that would leave the tenant without an enabled admin is refused (409 last_admin).
"""

from __future__ import annotations

import re
import time
from typing import Any, Literal

import peewee as pw
from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.errors import BadRequest, Conflict, ErrorCode, NotFound
from server.foundation import audit
from server.foundation.tx import admin_transaction
from server.foundation.validation import changed, iso, parse
from server.ids import new_id
from server.kernel.actors import Actor
from server.kernel.enums import Role
from server.routing.offers import expire_offers_of
from server.security.passwords import hash_password
from server.storage.database import is_mysql
from server.storage.guard import TenantScope
from server.storage.models import Agent, AgentDepartment, Department

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_CAPACITY = 100
MAX_DEPARTMENTS = 50


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254)
    name: str = Field(default="", max_length=200)
    password: str = Field(min_length=8, max_length=200)
    role: Literal["agent", "admin"] = "agent"
    capacity: int = Field(default=5, ge=0, le=MAX_CAPACITY)
    departments: list[str] = Field(default_factory=list, max_length=MAX_DEPARTMENTS)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip().lower()
        if not _EMAIL.match(value):
            raise ValueError("not a valid e-mail address")
        return value


class AgentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Literal["agent", "admin"] | None = None
    capacity: int | None = Field(default=None, ge=0, le=MAX_CAPACITY)
    departments: list[str] | None = Field(default=None, max_length=MAX_DEPARTMENTS)


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=8, max_length=200)


def _departments_of(scope: TenantScope, agent_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {agent_id: [] for agent_id in agent_ids}
    if not agent_ids:
        return found
    rows = scope.select(AgentDepartment).where(AgentDepartment.agent_id.in_(agent_ids))
    for row in rows.order_by(AgentDepartment.department_id):
        found[row.agent_id].append(row.department_id)
    return found


def agent_view(agent: Agent, departments: list[str]) -> dict[str, Any]:
    return {
        "id": agent.id,
        "email": agent.email,
        "name": agent.name,
        "role": agent.role,
        "capacity": agent.capacity,
        "status": agent.status,
        "disabled": bool(agent.disabled),
        "departments": departments,
        "created_at": iso(agent.created_at),
    }


def access_agent(scope: TenantScope, agent_id: str) -> Agent:
    agent = scope.get_or_none(Agent, Agent.id == agent_id)
    if agent is None:
        raise NotFound("no such agent")
    return agent


def list_agents_admin(actor: Actor) -> list[dict[str, Any]]:
    """Every agent of the tenant, disabled ones included, with capacity and departments."""
    scope = TenantScope(actor.tenant_id)
    agents = list(scope.select(Agent).order_by(Agent.name, Agent.id))
    departments = _departments_of(scope, [a.id for a in agents])
    return [agent_view(a, departments[a.id]) for a in agents]


def get_agent(actor: Actor, agent_id: str) -> dict[str, Any]:
    scope = TenantScope(actor.tenant_id)
    agent = access_agent(scope, agent_id)
    return agent_view(agent, _departments_of(scope, [agent.id])[agent.id])


def _set_departments(scope: TenantScope, agent_id: str, wanted: list[str]) -> list[str]:
    wanted = sorted(set(wanted))
    if wanted:
        known = {d.id for d in scope.select(Department).where(Department.id.in_(wanted))}
        missing = [d for d in wanted if d not in known]
        if missing:
            raise BadRequest(f"unknown departments: {', '.join(missing)}")
    scope.delete(AgentDepartment).where(AgentDepartment.agent_id == agent_id).execute()
    if wanted:
        rows = [{"agent_id": agent_id, "department_id": d} for d in wanted]
        scope.insert_many(AgentDepartment, rows).execute()
    return wanted


def _ensure_another_admin(scope: TenantScope, agent_id: str) -> None:
    """Refuse to take away the last enabled admin (rows locked on MySQL against races)."""
    admins = scope.select(Agent).where(Agent.role == Role.ADMIN.value, Agent.disabled == False)  # noqa: E712
    if is_mysql():
        admins = admins.for_update()
    if not any(a.id != agent_id for a in admins):
        raise Conflict(
            "the tenant would be left without an enabled admin", code=ErrorCode.LAST_ADMIN
        )


def _revoke(scope: TenantScope, agent_id: str) -> None:
    scope.update(Agent, token_version=Agent.token_version + 1).where(Agent.id == agent_id).execute()


def do_create_agent(actor: Actor, fields: object, ip: str) -> dict[str, Any]:
    data = parse(AgentCreate, fields)
    scope = TenantScope(actor.tenant_id)
    password_hash = hash_password(data.password)  # slow on purpose: outside the transaction
    try:
        with admin_transaction():
            agent = scope.create(
                Agent,
                id=new_id(),
                email=data.email,
                name=data.name.strip() or data.email.split("@")[0],
                password_hash=password_hash,
                role=data.role,
                capacity=data.capacity,
            )
            departments = _set_departments(scope, agent.id, data.departments)
            audit.record(actor, "agent.create", agent.id, data.model_dump(), ip)
    except pw.IntegrityError:
        raise Conflict("an agent with this e-mail exists", code=ErrorCode.ALREADY_EXISTS) from None
    return agent_view(agent, departments)


def do_update_agent(
    actor: Actor, agent_id: str, fields: object, ip: str
) -> tuple[dict[str, Any], bool]:
    """The updated agent, and whether its tokens were revoked (the role changed)."""
    scope = TenantScope(actor.tenant_id)
    access_agent(scope, agent_id)  # unknown (or another tenant's) ids are 404 before any 400
    data = parse(AgentUpdate, fields)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    with admin_transaction():
        agent = access_agent(scope, agent_id)
        before = get_agent(actor, agent_id)
        revoked = "role" in changes and changes["role"] != agent.role
        if revoked and agent.role == Role.ADMIN.value and not agent.disabled:
            _ensure_another_admin(scope, agent_id)
        values = {k: v for k, v in changes.items() if k in ("name", "role", "capacity")}
        if values:
            scope.update(Agent, **values).where(Agent.id == agent_id).execute()
        if "departments" in changes:
            _set_departments(scope, agent_id, changes["departments"])
        if revoked:
            _revoke(scope, agent_id)
        after = get_agent(actor, agent_id)
        audit.record(actor, "agent.update", agent_id, changed(before, after, changes), ip)
        return after, revoked


def do_set_disabled(
    actor: Actor, agent_id: str, disabled: bool, ip: str
) -> tuple[dict[str, Any], bool]:
    scope = TenantScope(actor.tenant_id)
    with admin_transaction():
        agent = access_agent(scope, agent_id)
        changed = bool(agent.disabled) != disabled
        if changed and disabled and agent.role == Role.ADMIN.value:
            _ensure_another_admin(scope, agent_id)
        if changed:
            scope.update(Agent, disabled=disabled).where(Agent.id == agent_id).execute()
            if disabled:
                _revoke(scope, agent_id)
                # Offers it holds end now (it can never accept them): the sweep moves them on.
                expire_offers_of(scope, agent_id, int(time.time() * 1000))
        action = "agent.disable" if disabled else "agent.enable"
        audit.record(actor, action, agent_id, {"disabled": disabled, "changed": changed}, ip)
        return get_agent(actor, agent_id), changed and disabled


def do_reset_password(actor: Actor, agent_id: str, fields: object, ip: str) -> dict[str, Any]:
    scope = TenantScope(actor.tenant_id)
    access_agent(scope, agent_id)  # 404 before 400
    data = parse(PasswordReset, fields)
    password_hash = hash_password(data.password)
    with admin_transaction():
        access_agent(scope, agent_id)
        scope.update(Agent, password_hash=password_hash).where(Agent.id == agent_id).execute()
        _revoke(scope, agent_id)  # a reset is for a leaked or forgotten password: log out
        audit.record(actor, "agent.reset_password", agent_id, {"password": True}, ip)
        return get_agent(actor, agent_id)
