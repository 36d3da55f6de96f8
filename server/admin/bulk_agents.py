"""Many agents at once (``steadydesk agent create --bulk FILE``): a 500-agent tenant in
seconds rather than one CLI process and one database connection per agent.

The file is CSV with a header row or JSON lines, one agent per row or line, with the
columns ``email`` (or ``login``), ``name``, ``role``, ``departments`` (ids or names; in CSV
separated by ``;``), ``password`` (empty or absent: one is generated and printed once) and
``capacity``. With ``no_passwords`` (``--no-password``) the rows give none and the agents
get none (they cannot log in with one until an admin sets it): for scripted tenants such
as the benchmark's, which take their tokens from ``--issue-tokens`` instead of 500
logins, and skip 500 deliberately slow hashes. Every row is checked first; one bad row
refuses the whole file with the line numbers of every problem, and nothing is written.
Then the passwords are hashed in parallel (argon2 releases the GIL; the hasher's
parameters are those of every other password) and the agents, their departments and one
``agent.create`` audit row each (actor ``system:cli``) are written in one transaction:
all of them or none.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
import peewee as pw

from server.admin.bridges import cli_actor
from server.admin.provisioning import get_tenant
from server.errors import BadRequest, Conflict, ErrorCode
from server.foundation import audit
from server.foundation.tx import admin_transaction
from server.ids import new_id
from server.kernel.enums import Role
from server.security.passwords import NO_PASSWORD, hash_password
from server.security.tokens import TokenSigner
from server.storage.guard import TenantScope
from server.storage.models import Agent, AgentDepartment, AuditLog, Department

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COLUMNS = frozenset({"email", "login", "name", "role", "departments", "password", "capacity"})
MAX_ROWS = 10_000
MAX_NAME = 200
MAX_EMAIL = 254
PASSWORD_MIN, PASSWORD_MAX = 8, 200
MAX_CAPACITY = 100_000
MAX_DEPARTMENTS = 50
MAX_REPORTED = 20  # problems named in the refusal; the rest are counted
INSERT_CHUNK = 50  # rows per INSERT (SQLite's bound-variable limit, MySQL's packet size)


@dataclass
class Row:
    line: int
    email: str
    name: str
    role: str
    capacity: int
    departments: list[str] = field(default_factory=list)  # as written: ids or names
    password: str | None = None  # None: generate one


@dataclass
class Created:
    line: int
    id: str
    email: str
    role: str
    departments: list[str]
    password: str | None  # only a generated one, shown once
    token: str | None = None  # with --issue-tokens: an agent token, as a login gives
    token_expires_at: int | None = None

    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "line": self.line,
            "id": self.id,
            "email": self.email,
            "role": self.role,
            "departments": self.departments,
        }
        if self.password is not None:
            out["generated_password"] = self.password
        if self.token is not None:
            out["token"] = self.token
            out["token_expires_at"] = self.token_expires_at
        return out


def _shown(value: object, limit: int = 60) -> str:
    """A value from the file quoted for a message: repr escapes control characters."""
    text = str(value)
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


# --------------------------------------------------------------------------- parsing


def _records(text: str, fmt: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, raw fields) per agent; blank lines are skipped."""
    if fmt == "jsonl":
        found: list[tuple[int, dict[str, Any]]] = []
        problems: list[str] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                problems.append(f"line {number}: not a JSON object")
                continue
            if not isinstance(value, dict):
                problems.append(f"line {number}: not a JSON object")
                continue
            found.append((number, value))
        if problems:
            raise _refusal(problems)
        return found
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\0extra")
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if not header:
        raise BadRequest("line 1: no header row (email,name,role,departments,password)")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise BadRequest(f"line 1: unknown columns {', '.join(_shown(h) for h in unknown)}")
    reader.fieldnames = header
    out = []
    for record in reader:
        line = reader.line_num
        if "\0extra" in record:
            raise _refusal([f"line {line}: more fields than the header names"])
        if all(not (v or "").strip() for v in record.values()):
            continue
        out.append((line, {k: v for k, v in record.items() if v is not None}))
    return out


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text")
    return value.strip()


def _row(line: int, raw: dict[str, Any], default_capacity: int) -> Row:
    unknown = sorted(k for k in raw if k not in COLUMNS)
    if unknown:
        raise ValueError(f"unknown fields {', '.join(_shown(k) for k in unknown)}")
    email = (_text(raw, "email") or _text(raw, "login")).lower()
    if not email:
        raise ValueError("email is missing")
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise ValueError(f"email {_shown(email)} is not a valid e-mail address")
    name = _text(raw, "name") or email.split("@")[0]
    if len(name) > MAX_NAME:
        raise ValueError(f"name is longer than {MAX_NAME} characters")
    role = _text(raw, "role").lower() or Role.AGENT.value
    if role not in (Role.AGENT.value, Role.ADMIN.value):
        raise ValueError(f"role {_shown(role)} is not agent or admin")
    password: str | None = raw.get("password") if raw.get("password") not in (None, "") else None
    if password is not None:
        if not isinstance(password, str):
            raise ValueError("password must be text")
        if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
            raise ValueError(
                f"password must have {PASSWORD_MIN} to {PASSWORD_MAX} characters "
                "(or be left empty to generate one)"
            )
    capacity = _capacity(raw.get("capacity"), default_capacity)
    departments = _department_list(raw.get("departments"))
    return Row(line, email, name, role, capacity, departments, password)


def _capacity(value: object, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValueError("capacity must be a whole number")
    try:
        number = int(value) if isinstance(value, int | str) else None
    except ValueError:
        number = None
    if number is None or not 0 <= number <= MAX_CAPACITY:
        raise ValueError(f"capacity must be a whole number from 0 to {MAX_CAPACITY}")
    return number


def _department_list(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items = [part.strip() for part in value.split(";")]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise ValueError("departments must be a list of ids or names")
    items = [i for i in items if i]
    if len(items) > MAX_DEPARTMENTS:
        raise ValueError(f"more than {MAX_DEPARTMENTS} departments")
    return items


def _refusal(problems: list[str]) -> BadRequest:
    shown = "; ".join(problems[:MAX_REPORTED])
    more = f"; and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
    rows = "1 bad row" if len(problems) == 1 else f"{len(problems)} bad rows"
    return BadRequest(f"nothing created, {rows}: {shown}{more}")


def file_format(path: str, text: str) -> str:
    """``jsonl`` for .jsonl/.ndjson/.json files or text starting with ``{``; else ``csv``."""
    lowered = path.lower()
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lowered.endswith(".csv"):
        return "csv"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def parse_rows(text: str, fmt: str, default_capacity: int = 5) -> list[Row]:
    """Every row checked; any problem refuses the whole file (BadRequest, line-numbered)."""
    records = _records(text, fmt)
    if not records:
        raise BadRequest("the file names no agents")
    if len(records) > MAX_ROWS:
        raise BadRequest(f"more than {MAX_ROWS} agents in one file: split it")
    rows: list[Row] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for line, raw in records:
        try:
            row = _row(line, raw, default_capacity)
        except ValueError as err:
            problems.append(f"line {line}: {err}")
            continue
        if row.email in first_line:
            earlier = first_line[row.email]
            problems.append(f"line {line}: {_shown(row.email)} is also on line {earlier}")
            continue
        first_line[row.email] = line
        rows.append(row)
    if problems:
        raise _refusal(problems)
    return rows


# --------------------------------------------------------------------------- writing


def _resolve_departments(scope: TenantScope, rows: list[Row]) -> dict[int, list[str]]:
    """Each row's department ids (a department is named by its id or its name)."""
    departments = list(scope.select(Department, Department.id, Department.name))
    by_key = {d.id: d.id for d in departments}
    by_key.update({d.name: d.id for d in departments if d.name not in by_key})
    resolved: dict[int, list[str]] = {}
    problems = []
    for row in rows:
        missing = [d for d in row.departments if d not in by_key]
        if missing:
            names = ", ".join(_shown(d) for d in missing)
            problems.append(f"line {row.line}: unknown departments {names}")
        resolved[row.line] = sorted({by_key[d] for d in row.departments if d in by_key})
    if problems:
        raise _refusal(problems)
    return resolved


def _existing(scope: TenantScope, rows: list[Row]) -> None:
    emails = [r.email for r in rows]
    taken: set[str] = set()
    for start in range(0, len(emails), 500):
        chunk = emails[start : start + 500]
        query = scope.select(Agent, Agent.email).where(Agent.email.in_(chunk))
        taken.update(a.email for a in query)
    if taken:
        raise _refusal(
            [f"line {r.line}: an agent {_shown(r.email)} exists" for r in rows if r.email in taken]
        )


def _hash_all(passwords: list[str], workers: int | None) -> list[str]:
    threads = max(1, min(workers or os.cpu_count() or 1, len(passwords)))
    with ThreadPoolExecutor(threads, thread_name_prefix="argon2") as pool:
        return list(pool.map(hash_password, passwords))


def _no_passwords_given(rows: list[Row]) -> None:
    given = [f"line {r.line}: a password, but the agents get none" for r in rows if r.password]
    if given:
        raise _refusal(given)


def create_agents_bulk(
    tenant_id: str,
    rows: list[Row],
    *,
    workers: int | None = None,
    no_passwords: bool = False,
) -> list[Created]:
    """Write every row in one transaction (all or nothing) with an audit row each."""
    get_tenant(tenant_id)
    scope = TenantScope(tenant_id)
    actor = cli_actor(tenant_id)
    if no_passwords:
        _no_passwords_given(rows)
    _resolve_departments(scope, rows)  # refuse before the slow part
    _existing(scope, rows)
    if no_passwords:
        passwords, hashes = [""] * len(rows), [NO_PASSWORD] * len(rows)
    else:
        passwords = [r.password or secrets.token_urlsafe(12) for r in rows]
        hashes = _hash_all(passwords, workers)
    created: list[Created] = []
    try:
        with admin_transaction():
            departments = _resolve_departments(scope, rows)  # as of this transaction
            _existing(scope, rows)
            agents, members, entries = [], [], []
            for row, password, password_hash in zip(rows, passwords, hashes, strict=True):
                agent_id = new_id()
                dept_ids = departments[row.line]
                agents.append({
                    "id": agent_id, "email": row.email, "name": row.name,
                    "password_hash": password_hash, "role": row.role, "capacity": row.capacity,
                })  # fmt: skip
                members += [{"agent_id": agent_id, "department_id": d} for d in dept_ids]
                changes = {
                    "email": row.email, "name": row.name, "password": not no_passwords,
                    "role": row.role,
                    "capacity": row.capacity, "departments": dept_ids, "bulk_line": row.line,
                }  # fmt: skip
                entries.append(audit.entry(actor, "agent.create", agent_id, changes))
                generated = None if row.password or no_passwords else password
                created.append(
                    Created(row.line, agent_id, row.email, row.role, dept_ids, generated)
                )
            for model, batch in ((Agent, agents), (AgentDepartment, members), (AuditLog, entries)):
                for start in range(0, len(batch), INSERT_CHUNK):
                    scope.insert_many(model, batch[start : start + INSERT_CHUNK]).execute()
    except pw.IntegrityError:
        raise Conflict(
            "nothing created: an agent with one of these e-mail addresses was created meanwhile",
            code=ErrorCode.ALREADY_EXISTS,
        ) from None
    return created


def issue_tokens(
    created: list[Created], tenant_id: str, signer: TokenSigner, ttl_secs: int
) -> None:
    """An agent token for each created agent (``--issue-tokens``), as a login would give:
    a script can connect its agents without a password check per agent."""
    version = Agent.token_version.default  # a new agent's
    for agent in created:
        issued = signer.issue(
            "agent", tenant=tenant_id, subject=agent.id, version=version, ttl_secs=ttl_secs
        )
        agent.token, agent.token_expires_at = issued.token, issued.expires_at
