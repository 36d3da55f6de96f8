"""The admin REST API (``docs/admin-api.md``) as plain calls, for the console's admin screens.

No Textual here (import-linter: console core): each call answers the server's JSON or
raises :class:`~tui_agent.client.ApiError` (403 for a caller who is not an admin, shown
as such by the screens). Requests go through the agent client's one HTTP session, so
the token, the tenant hint and the error mapping are the desk's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tui_agent.client import ApiError

Request = Callable[..., Awaitable[dict[str, Any] | None]]
API = "/api/v1"
LOG_PAGE = 200  # rows of a log view (the server allows 1..500)


def _rows(body: Mapping[str, Any] | None, key: str) -> list[dict[str, Any]]:
    rows = body.get(key) if body is not None else None
    return [dict(r) for r in rows if isinstance(r, Mapping)] if isinstance(rows, list) else []


def _segment(value: str) -> str:
    """One path segment: an id typed or listed can never reach another route."""
    return quote(value, safe="")


def _filters(values: Mapping[str, str]) -> dict[str, str]:
    return {k: v.strip() for k, v in values.items() if v and v.strip()}


@dataclass
class AdminApi:
    request: Request
    log_page_rows: int = LOG_PAGE

    async def _must(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body = await self.request(method, API + path, **kwargs)
        if body is None:
            raise ApiError(404, "not_found", f"the server has no {path} (an older server?)")
        return body

    # -- agents and departments --------------------------------------------------------
    async def agents(self) -> list[dict[str, Any]]:
        return _rows(await self._must("GET", "/agents"), "agents")

    async def create_agent(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return await self._must("POST", "/agents", json=dict(fields))

    async def update_agent(self, agent_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return await self._must("PATCH", f"/agents/{_segment(agent_id)}", json=dict(fields))

    async def set_disabled(self, agent_id: str, disabled: bool) -> dict[str, Any]:
        verb = "disable" if disabled else "enable"
        return await self._must("POST", f"/agents/{_segment(agent_id)}/{verb}")

    async def reset_password(self, agent_id: str, password: str) -> dict[str, Any]:
        return await self._must(
            "POST", f"/agents/{_segment(agent_id)}/password", json={"password": password}
        )

    async def departments(self) -> list[dict[str, Any]]:
        return _rows(await self._must("GET", "/departments"), "departments")

    async def create_department(self, name: str) -> dict[str, Any]:
        return await self._must("POST", "/departments", json={"name": name})

    async def rename_department(self, department_id: str, name: str) -> dict[str, Any]:
        return await self._must(
            "PATCH", f"/departments/{_segment(department_id)}", json={"name": name}
        )

    async def delete_department(self, department_id: str) -> dict[str, Any]:
        return await self._must("DELETE", f"/departments/{_segment(department_id)}")

    # -- sites -----------------------------------------------------------------------
    async def sites(self) -> list[dict[str, Any]]:
        return _rows(await self._must("GET", "/sites"), "sites")

    async def create_site(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return await self._must("POST", "/sites", json=dict(fields))

    async def update_site(self, site_key: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return await self._must("PATCH", f"/sites/{_segment(site_key)}", json=dict(fields))

    async def rotate_secret(self, site_key: str) -> dict[str, Any]:
        return await self._must("POST", f"/sites/{_segment(site_key)}/rotate-secret")

    async def hours(self, site_key: str) -> dict[str, Any]:
        return await self._must("GET", f"/sites/{_segment(site_key)}/hours")

    async def set_hours(self, site_key: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._must("PUT", f"/sites/{_segment(site_key)}/hours", json=dict(body))

    async def prechat(self, site_key: str) -> dict[str, Any]:
        return await self._must("GET", f"/sites/{_segment(site_key)}/prechat")

    async def set_prechat(self, site_key: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._must("PUT", f"/sites/{_segment(site_key)}/prechat", json=dict(body))

    # -- team canned replies, settings, API keys, bridges ------------------------------------
    async def team_canned(self) -> list[dict[str, Any]]:
        rows = _rows(await self._must("GET", "/canned-replies"), "canned_replies")
        return [r for r in rows if r.get("scope") == "tenant"]

    async def create_canned(self, shortcut: str, body: str) -> dict[str, Any]:
        fields = {"scope": "tenant", "shortcut": shortcut, "body": body}
        return await self._must("POST", "/canned-replies", json=fields)

    async def update_canned(self, reply_id: str, shortcut: str, body: str) -> dict[str, Any]:
        fields = {"shortcut": shortcut, "body": body}
        return await self._must("PATCH", f"/canned-replies/{_segment(reply_id)}", json=fields)

    async def delete_canned(self, reply_id: str) -> dict[str, Any]:
        return await self._must("DELETE", f"/canned-replies/{_segment(reply_id)}")

    async def settings(self) -> dict[str, Any]:
        return await self._must("GET", "/settings")

    async def put_settings(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._must("PUT", "/settings", json=dict(body))

    async def api_keys(self) -> list[dict[str, Any]]:
        return _rows(await self._must("GET", "/api-keys"), "api_keys")

    async def create_api_key(self, name: str, role: str) -> dict[str, Any]:
        return await self._must("POST", "/api-keys", json={"name": name, "role": role})

    async def revoke_api_key(self, key_id: str) -> dict[str, Any]:
        return await self._must("DELETE", f"/api-keys/{_segment(key_id)}")

    async def bridges(self) -> list[dict[str, Any]]:
        return _rows(await self._must("GET", "/bridges"), "bridges")

    async def create_bridge(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return await self._must("POST", "/bridges", json=dict(fields))

    async def revoke_bridge(self, bridge_id: str) -> dict[str, Any]:
        return await self._must("DELETE", f"/bridges/{_segment(bridge_id)}")

    async def bridge_links(self, bridge_id: str) -> list[dict[str, Any]]:
        return _rows(await self._must("GET", f"/bridges/{_segment(bridge_id)}/links"), "links")

    async def link_code(self) -> dict[str, Any]:
        return await self._must("POST", "/me/link-code")

    # -- logs and reports ----------------------------------------------------------------
    async def log_page(
        self, log: str, filters: Mapping[str, str], before: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        """A page of ``/audit`` or ``/login-log``, newest first, and the ``before`` of the
        next (older) page ("" when this is the last)."""
        if log not in ("audit", "login-log"):
            raise ValueError(log)
        params = {"limit": str(self.log_page_rows), **_filters({**filters, "before": before})}
        body = await self._must("GET", f"/{log}", params=params)
        following = body.get("next_before")
        return _rows(body, "entries"), "" if following is None else str(following)

    async def report(self, group: str, start: str = "", end: str = "") -> dict[str, Any]:
        params = _filters({"group": group, "from": start, "to": end})
        return await self._must("GET", "/reports", params=params)


def problem(exc: ApiError) -> str:
    """What an admin screen shows for a failed call."""
    if exc.status == 403:
        return f"The server refused: admins only (403 {exc.code or 'forbidden'})."
    if exc.status == 401:
        return "The server refused the login (401): log in again."
    if exc.status == 0:
        return exc.message
    return f"{exc.status} {exc.code}: {exc.message}"
