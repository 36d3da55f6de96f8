"""Tenant guard: tenant-owned data is reached only through a scope bound to one tenant.

Every query the database executes passes ``check_query``. A SELECT, UPDATE or DELETE on a
tenant-owned table must carry ``tenant_id = <value>`` as a top-level condition for every
tenant-owned table it reads; an INSERT must set ``tenant_id`` on every row. Otherwise the
query raises ``TenantGuardError`` before it reaches the database. Code that must span
tenants on purpose (migrations, the platform operator, per-IP throttling) says so with
``cross_tenant()``.

Raw SQL (``database.execute_sql``) is not seen here. The group-commit writer
(``server/chat/writer.py``) is the one raw-SQL path on tenant data that runs per request:
its batches span tenants, so it checks each row's tenant against its conversation's itself
(its docstring says how; its unit tests prove it). The other raw statements are schema and
maintenance work: migrations, the full-text index, re-keying, backups and restore.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

import peewee as pw

_CROSS_TENANT: contextvars.ContextVar[bool] = contextvars.ContextVar("cross_tenant", default=False)

M = TypeVar("M", bound=pw.Model)


class TenantGuardError(RuntimeError):
    """A query on tenant-owned data without a tenant filter."""


@contextlib.contextmanager
def cross_tenant() -> Iterator[None]:
    token = _CROSS_TENANT.set(True)
    try:
        yield
    finally:
        _CROSS_TENANT.reset(token)


def _is_tenant_model(model: Any) -> bool:
    return bool(getattr(model, "tenant_owned", False))


def _conjuncts(expr: Any) -> Iterator[Any]:
    if isinstance(expr, pw.Expression) and str(expr.op).upper() == "AND":
        yield from _conjuncts(expr.lhs)
        yield from _conjuncts(expr.rhs)
    elif expr is not None:
        yield expr


def _filtered_tenants(where: Any) -> dict[type[pw.Model], Any]:
    """Tables pinned to one tenant by a top-level ``tenant_id = value`` condition."""
    pinned: dict[type[pw.Model], Any] = {}
    for term in _conjuncts(where):
        if (
            isinstance(term, pw.Expression)
            and term.op == pw.OP.EQ
            and isinstance(term.lhs, pw.Field)
            and term.lhs.name == "tenant_id"
            and isinstance(term.rhs, str)
            and term.rhs
        ):
            pinned[term.lhs.model] = term.rhs
    return pinned


def _tables_read(query: Any) -> list[type[pw.Model]]:
    models: list[type[pw.Model]] = []
    for source in getattr(query, "_from_list", []) or []:
        if isinstance(source, type) and issubclass(source, pw.Model):
            models.append(source)
    for joins in (getattr(query, "_joins", {}) or {}).values():
        for dest, *_ in joins:
            if isinstance(dest, type) and issubclass(dest, pw.Model):
                models.append(dest)
    model = getattr(query, "model", None)
    if not models and model is not None:
        models.append(model)
    return models


def check_query(query: Any) -> None:
    if _CROSS_TENANT.get():
        return
    if isinstance(query, pw.ModelInsert):
        _check_insert(query)
    elif isinstance(query, (pw.ModelSelect, pw.ModelUpdate, pw.ModelDelete)):
        pinned = _filtered_tenants(getattr(query, "_where", None))
        for model in _tables_read(query):
            if _is_tenant_model(model) and model not in pinned:
                raise TenantGuardError(
                    f"query on tenant-owned table {model._meta.table_name} without a tenant filter"
                )
    elif isinstance(query, pw.Query) and _is_tenant_model(getattr(query, "model", None)):
        raise TenantGuardError(f"unsupported query {type(query).__name__} on tenant-owned data")


def _check_insert(query: pw.ModelInsert) -> None:
    model = query.model
    if not _is_tenant_model(model):
        return
    rows: Any = getattr(query, "_insert", None)
    if isinstance(rows, Mapping):
        rows = [rows]
    if not isinstance(rows, list):
        raise TenantGuardError("INSERT ... SELECT into a tenant-owned table is not allowed")
    columns = getattr(query, "_columns", None)
    for row in rows:
        if isinstance(row, Mapping):
            value = next((v for k, v in row.items() if getattr(k, "name", k) == "tenant_id"), None)
        else:
            names = [c.name for c in columns or []]
            value = row[names.index("tenant_id")] if "tenant_id" in names else None
        if not isinstance(value, str) or not value:
            raise TenantGuardError(f"insert into {model._meta.table_name} without tenant_id")


class TenantScope:
    """All reads and writes of one tenant's data. The tenant filter cannot be forgotten."""

    def __init__(self, tenant_id: str):
        if not tenant_id:
            raise ValueError("a tenant scope needs a tenant id")
        self.tenant_id = tenant_id

    def select(self, model: type[M], *fields: Any) -> Any:
        tenant_field: Any = model.tenant_id  # type: ignore[attr-defined]
        return model.select(*fields).where(tenant_field == self.tenant_id)

    def get_or_none(self, model: type[M], *conditions: Any) -> M | None:
        query = self.select(model)
        if conditions:
            query = query.where(*conditions)
        found: M | None = query.first()
        return found

    def create(self, model: type[M], **values: Any) -> M:
        values["tenant_id"] = self.tenant_id
        return model.create(**values)

    def update(self, model: type[M], **values: Any) -> pw.ModelUpdate:
        values.pop("tenant_id", None)
        return model.update(**values).where(model.tenant_id == self.tenant_id)  # type: ignore[attr-defined]

    def delete(self, model: type[M]) -> pw.ModelDelete:
        return model.delete().where(model.tenant_id == self.tenant_id)  # type: ignore[attr-defined]

    def insert_many(self, model: type[M], rows: list[dict[str, Any]]) -> pw.ModelInsert:
        return model.insert_many([{**row, "tenant_id": self.tenant_id} for row in rows])
