"""Departments: create, rename, delete. Deleting detaches: agents leave it and its
conversations go back to the tenant-wide queue (department NULL); nothing else is lost."""

from __future__ import annotations

from typing import Any

import peewee as pw
from pydantic import BaseModel, ConfigDict, Field

from server.errors import Conflict, ErrorCode, NotFound
from server.foundation import audit
from server.foundation.tx import admin_transaction
from server.foundation.validation import iso, parse
from server.ids import new_id
from server.kernel.actors import Actor
from server.storage.guard import TenantScope
from server.storage.models import AgentDepartment, Conversation, Department, Visitor


class DepartmentFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)  # checked after the strip


def department_view(department: Department) -> dict[str, Any]:
    return {"id": department.id, "name": department.name, "created_at": iso(department.created_at)}


def access_department(scope: TenantScope, department_id: str) -> Department:
    found = scope.get_or_none(Department, Department.id == department_id)
    if found is None:
        raise NotFound("no such department")
    return found


def _name_taken() -> Conflict:
    return Conflict("a department with this name exists", code=ErrorCode.ALREADY_EXISTS)


def do_create_department(actor: Actor, fields: object, ip: str) -> dict[str, Any]:
    data = parse(DepartmentFields, fields)
    scope = TenantScope(actor.tenant_id)
    try:
        with admin_transaction():
            department = scope.create(Department, id=new_id(), name=data.name.strip())
            audit.record(actor, "department.create", department.id, {"name": department.name}, ip)
    except pw.IntegrityError:
        raise _name_taken() from None
    return department_view(department)


def do_rename_department(
    actor: Actor, department_id: str, fields: object, ip: str
) -> dict[str, Any]:
    scope = TenantScope(actor.tenant_id)
    access_department(scope, department_id)  # 404 before 400
    data = parse(DepartmentFields, fields)
    try:
        with admin_transaction():
            old = access_department(scope, department_id)
            name = data.name.strip()
            scope.update(Department, name=name).where(Department.id == department_id).execute()
            audit.record(actor, "department.rename", department_id, {"name": [old.name, name]}, ip)
    except pw.IntegrityError:
        raise _name_taken() from None
    return department_view(access_department(scope, department_id))


def do_delete_department(actor: Actor, department_id: str, ip: str) -> dict[str, int]:
    scope = TenantScope(actor.tenant_id)
    with admin_transaction():
        department = access_department(scope, department_id)
        members = (
            scope.delete(AgentDepartment)
            .where(AgentDepartment.department_id == department_id)
            .execute()
        )
        conversations = (
            scope.update(Conversation, department_id=None)
            .where(Conversation.department_id == department_id)
            .execute()
        )
        # A visitor's pre-chat choice too: else their next conversation is queued in it.
        scope.update(Visitor, department_id=None).where(
            Visitor.department_id == department_id
        ).execute()
        scope.delete(Department).where(Department.id == department_id).execute()
        detached = {"agents": members, "conversations": conversations}
        audit.record(
            actor, "department.delete", department_id, {"name": department.name, **detached}, ip
        )
    return detached
