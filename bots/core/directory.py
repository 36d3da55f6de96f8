"""The tenant's agents and departments as the bridge reads them over REST
(``GET /api/v1/agents``, ``GET /api/v1/departments``): for ``!transfer <name>``, the
transfer picker, and naming a department in a thread's notices."""

from __future__ import annotations

import contextlib
from typing import Any

from bots.core.client import ApiError, SteadyClient

Row = dict[str, Any]


class Directory:
    def __init__(self, client: SteadyClient) -> None:
        self._client = client
        self._department_names: dict[str, str] = {}

    async def listing(self) -> tuple[list[Row], list[Row]]:
        """(agents, departments), read now (presence changes); raises ApiError."""
        agents = await self._client.request("GET", "/api/v1/agents")
        departments = await self._client.request("GET", "/api/v1/departments")
        agent_rows = _rows(agents, "agents")
        department_rows = _rows(departments, "departments")
        self._remember(department_rows)
        return agent_rows, department_rows

    async def department_name(self, department: str) -> str:
        """Its name, read again when it is not known yet; a neutral phrase if unreadable."""
        if department not in self._department_names:
            with contextlib.suppress(ApiError):
                body = await self._client.request("GET", "/api/v1/departments")
                self._remember(_rows(body, "departments"))
        return self._department_names.get(department, "another department")

    def _remember(self, departments: list[Row]) -> None:
        for row in departments:
            if isinstance(row.get("id"), str) and isinstance(row.get("name"), str):
                self._department_names[row["id"]] = row["name"]


def _rows(body: Any, key: str) -> list[Row]:
    rows = body.get(key) if isinstance(body, dict) else None
    return [row for row in rows or [] if isinstance(row, dict)]
