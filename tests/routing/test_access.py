"""Who may read and change routing settings: admins of the tenant only. Agents get 403,
another tenant's admin 404 (exactly like an unknown id), no token 401."""

from __future__ import annotations

from tests.routing.support import Tenant, new_tenant
from tests.support.clients import assert_error_response
from tests.support.server import ServerProcess

ROUTING = {"policy": "round_robin", "offer_timeout_secs": 5}
HOURS = {"hours": {"tz": "UTC", "days": {"mon": [["09:00", "17:00"]]}}}
PRECHAT = {"enabled": True, "fields": ["name"], "required": []}


def routes(t: Tenant, dep: str) -> list[tuple[str, str, object]]:
    return [
        ("GET", f"/departments/{dep}/routing", None),
        ("PUT", f"/departments/{dep}/routing", ROUTING),
        ("GET", f"/sites/{t.site}/hours", None),
        ("PUT", f"/sites/{t.site}/hours", HOURS),
        ("GET", f"/sites/{t.site}/prechat", None),
        ("PUT", f"/sites/{t.site}/prechat", PRECHAT),
    ]


async def test_admin_may_agent_may_not(server: ServerProcess) -> None:
    t = await new_tenant(server)
    dep = t.department("D", [0])
    for method, path, body in [
        *routes(t, dep),
        ("GET", "/routing/default", None),
        ("PUT", "/routing/default", ROUTING),
    ]:
        ok = await t.call(method, path, t.admin_token, body)
        assert ok.status_code == 200, (method, path, ok.text)
        denied = await t.call(method, path, t.agent_tokens[0], body)
        assert_error_response(denied, 403, "forbidden")
        anonymous = await t.call(method, path, None, body)
        assert anonymous.status_code == 401, (method, path)
    visitor = (await t.session()).json()["token"]
    denied = await t.call("PUT", f"/departments/{dep}/routing", visitor, ROUTING)
    assert_error_response(denied, 403)


async def test_another_tenants_admin_gets_404_like_unknown_ids(server: ServerProcess) -> None:
    t = await new_tenant(server)
    intruder = await new_tenant(server)
    dep = t.department("Private", [0])
    for method, path, body in routes(t, dep):
        foreign = await t.call(method, path, intruder.admin_token, body)
        assert_error_response(foreign, 404, "not_found")
    for method, path, body in routes(t, "01UNKNOWN0000000000000000Z"):
        if "/departments/" in path:
            unknown = await t.call(method, path, t.admin_token, body)
            assert_error_response(unknown, 404, "not_found")
    # Nothing changed and nothing was audited in the victim's tenant.
    got = await t.call("GET", f"/departments/{dep}/routing", t.admin_token)
    assert got.json()["policy"] == "manual"
    assert t.audit("department.routing") == []
    assert t.audit("site.hours") == [] and t.audit("site.prechat") == []


async def test_bad_policies_are_refused(server: ServerProcess) -> None:
    t = await new_tenant(server)
    dep = t.department("D", [0])
    for body in (
        {"policy": "random"},
        {"policy": "round_robin", "offer_timeout_secs": 0},
        {"policy": "least_loaded", "offer_timeout_secs": "30"},
        [],
    ):
        resp = await t.call("PUT", f"/departments/{dep}/routing", t.admin_token, body)
        assert_error_response(resp, 400)
    ok = await t.call("PUT", f"/departments/{dep}/routing", t.admin_token, ROUTING)
    assert ok.status_code == 200
    [entry] = t.audit("department.routing")
    assert entry.target == dep and "round_robin" in entry.summary
