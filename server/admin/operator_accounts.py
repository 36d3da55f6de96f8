"""Platform operator accounts (SaaS mode): list, disable or enable, reset a password, and
read the platform's own login log and audit trail (``_platform``).

The same actions serve the CLI (``steadydesk operator ...``, audited as ``system:cli``) and
the operators' REST routes. Disabling and resetting a password end the operator's sessions
(its token version moves on); an operator cannot disable itself, so a platform keeps at
least the operator who is acting.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.admin import logs
from server.admin.operators import MIN_PASSWORD_CHARS, PLATFORM
from server.errors import BadRequest, Conflict, NotFound
from server.foundation import audit
from server.foundation.tx import admin_transaction
from server.foundation.validation import iso, parse
from server.kernel.actors import Actor
from server.kernel.enums import SenderType
from server.security.passwords import hash_password
from server.storage.models import Operator

CLI_ID = "cli"


def platform_cli_actor() -> Actor:
    """The command line acting on the platform (``system:cli`` in the platform audit)."""
    return Actor(SenderType.SYSTEM, CLI_ID, PLATFORM, "command line")


def operator_view(operator: Operator) -> dict[str, Any]:
    return {
        "id": operator.id,
        "email": operator.email,
        "name": operator.name,
        "disabled": bool(operator.disabled),
        "created_at": iso(operator.created_at),
    }


def list_operators() -> list[dict[str, Any]]:
    return [operator_view(o) for o in Operator.select().order_by(Operator.email)]


def find_operator(ref: str) -> Operator:
    """By id, or by email (the CLI's way); 404 when neither matches."""
    ref = ref.strip()
    found = Operator.get_or_none((Operator.id == ref[:26]) | (Operator.email == ref.lower()[:254]))
    if found is None:
        raise NotFound("no such operator")
    return found


def _revoke(operator_id: str) -> None:
    Operator.update(token_version=Operator.token_version + 1).where(
        Operator.id == operator_id
    ).execute()


def set_disabled(actor: Actor, ref: str, disabled: bool, ip: str = "") -> dict[str, Any]:
    with admin_transaction():
        operator = find_operator(ref)
        if disabled and operator.id == actor.id and actor.type is SenderType.OPERATOR:
            raise Conflict("an operator cannot disable itself")
        changed = bool(operator.disabled) != disabled
        if changed:
            Operator.update(disabled=disabled).where(Operator.id == operator.id).execute()
            if disabled:
                _revoke(operator.id)  # its tokens stay dead if it is enabled again
        action = "operator.disable" if disabled else "operator.enable"
        changes = {"email": operator.email, "disabled": disabled, "changed": changed}
        audit.record(actor, action, operator.id, changes, ip, tenant_id=PLATFORM)
        return operator_view(find_operator(operator.id))


class OperatorPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=200)


def reset_password(actor: Actor, ref: str, fields: object, ip: str = "") -> dict[str, Any]:
    find_operator(ref)  # 404 before 400
    data = parse(OperatorPassword, fields)
    password_hash = hash_password(data.password)
    with admin_transaction():
        operator = find_operator(ref)
        Operator.update(password_hash=password_hash).where(Operator.id == operator.id).execute()
        _revoke(operator.id)  # a reset is for a leaked or forgotten password: log out
        changes = {"email": operator.email, "password": True}
        audit.record(actor, "operator.reset_password", operator.id, changes, ip, PLATFORM)
        return operator_view(operator)


def platform_login_log(actor: Actor, args: dict[str, str | None]) -> dict[str, Any]:
    """Operators' login attempts (``_platform``), for an operator (``platform_actor``)."""
    return logs.list_logins(_on_platform(actor), args)


def platform_audit(actor: Actor, args: dict[str, str | None]) -> dict[str, Any]:
    """What was done to operators from the platform (``_platform``), for an operator."""
    return logs.list_audit(_on_platform(actor), args)


def _on_platform(actor: Actor) -> Actor:
    if actor.type is not SenderType.OPERATOR or actor.tenant_id != PLATFORM:
        raise BadRequest("the platform's logs are for operators")
    return actor
