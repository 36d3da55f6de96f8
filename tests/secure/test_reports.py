"""Reports: a known set of conversations with controlled timestamps, every figure checked
exactly, on both backends; and who may read them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from server.ids import new_id
from server.storage.guard import TenantScope
from server.storage.models import Agent, Conversation, Department, Message, Site
from tests.secure.conftest import bearer, direct_db
from tests.support.clients import (
    assert_error_response,
    get,
    login,
    new_visitor,
)
from tests.support.server import DemoTenant, ServerProcess

T = dt.datetime


def ms(when: T) -> int:
    return int(when.replace(tzinfo=dt.UTC).timestamp() * 1000)


class Builder:
    def __init__(self, tenant: str) -> None:
        self.scope = TenantScope(tenant)
        site = self.scope.select(Site).first()
        self.site = site.id
        agents = list(self.scope.select(Agent).where(Agent.role == "agent").order_by(Agent.name))
        self.agent_a, self.agent_b = agents[0].id, agents[1].id
        self.dept_1 = self.scope.create(Department, id=new_id(), name="Sales").id
        self.dept_2 = self.scope.create(Department, id=new_id(), name="Support").id

    def conversation(self, created: T, *, assigned: T | None = None, agent: str | None = None,
                     closed: T | None = None, department: str | None = None,
                     rating: int | None = None,
                     messages: tuple[tuple[str, T, str], ...] = ()) -> str:
        conv, visitor = new_id(), new_id()
        self.scope.create(
            Conversation, id=conv, site_id=self.site, visitor_id=visitor,
            department_id=department, status="closed" if closed else (
                "active" if agent else "queued"),
            assignee_id=agent, open_key=None if closed else visitor, last_seq=len(messages),
            created_at=created, assigned_at=assigned, closed_at=closed, rating=rating,
            rated_at=closed if rating else None,
        )
        for seq, (sender, when, kind) in enumerate(messages, 1):
            self.scope.create(
                Message, conversation_id=conv, seq=seq, id=new_id(), kind=kind,
                sender_type=sender, sender_id=visitor if sender == "visitor" else "x",
                cid=new_id(), body=f"{sender} {seq}", created_ms=ms(when),
            )
        return conv


@pytest.fixture(scope="module")
def report_tenant(server: ServerProcess) -> dict[str, Any]:
    """Five conversations of 2026-03-01/02 in a tenant of their own, plus noise outside
    the range and in another tenant."""
    tenant = server.run_demo("reports")
    other = server.run_demo("reportsother")
    with direct_db(server):
        b = Builder(tenant.tenant)
        d1 = T(2026, 3, 1)
        # c1: answered after 39.75 s, waited 30 s, resolved in 600 s, rated 5.
        b.conversation(d1.replace(hour=10), assigned=T(2026, 3, 1, 10, 0, 30), agent=b.agent_a,
                       closed=T(2026, 3, 1, 10, 10), department=b.dept_1, rating=5, messages=(
                           ("visitor", T(2026, 3, 1, 10, 0, 5, 250_000), "text"),
                           ("agent", T(2026, 3, 1, 10, 0, 45), "text"),
                       ))
        # c2: a note does not count as an answer: 140 s; waited 120 s; resolved 1800 s.
        b.conversation(d1.replace(hour=11), assigned=T(2026, 3, 1, 11, 2), agent=b.agent_b,
                       closed=T(2026, 3, 1, 11, 30), department=b.dept_1, rating=3, messages=(
                           ("visitor", T(2026, 3, 1, 11, 0, 0, 500_000), "text"),
                           ("agent", T(2026, 3, 1, 11, 0, 10), "note"),
                           ("agent", T(2026, 3, 1, 11, 2, 20, 500_000), "text"),
                       ))
        # c3: missed: closed after 300 s with only a system message.
        b.conversation(d1.replace(hour=12), closed=T(2026, 3, 1, 12, 5), messages=(
            ("visitor", T(2026, 3, 1, 12, 0, 1), "text"),
            ("system", T(2026, 3, 1, 12, 0, 2), "text"),
        ))
        # c4: still active, an AI answered after 3 s, waited 60 s.
        b.conversation(T(2026, 3, 2, 9), assigned=T(2026, 3, 2, 9, 1), agent=b.agent_a,
                       department=b.dept_2, messages=(
                           ("visitor", T(2026, 3, 2, 9), "text"),
                           ("ai", T(2026, 3, 2, 9, 0, 3), "text"),
                       ))
        # c5: queued, no message yet, the last second of the day.
        b.conversation(T(2026, 3, 2, 23, 59, 59))
        # Outside the range, and another tenant's conversation inside it.
        b.conversation(T(2026, 2, 28, 23, 59, 59), closed=T(2026, 3, 1, 1), rating=1)
        b.conversation(T(2026, 3, 3), closed=T(2026, 3, 3, 1), rating=1)
        ob = Builder(other.tenant)
        ob.conversation(d1.replace(hour=10), closed=T(2026, 3, 1, 10, 5), rating=1)
        return {"demo": tenant, "other": other, "a": b.agent_a, "b": b.agent_b,
                "d1": b.dept_1, "d2": b.dept_2}


async def report(server: ServerProcess, demo: DemoTenant, query: str) -> dict[str, Any]:
    admin = await login(server, demo.admin, demo=demo)
    resp = await get(server, f"/api/v1/reports?{query}", bearer(admin["token"]))
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def figures(conversations: int, closed: int, first: float | None, wait: float | None,
            resolution: float | None, missed: int, csat: float | None,
            csat_count: int) -> dict[str, Any]:
    return {"conversations": conversations, "closed": closed,
            "first_response_avg_secs": first, "wait_avg_secs": wait,
            "resolution_avg_secs": resolution, "missed": missed, "csat_avg": csat,
            "csat_count": csat_count}


TOTAL = figures(5, 3, 60.917, 70.0, 900.0, 1, 4.0, 2)


async def test_report_by_day(server: ServerProcess, report_tenant: dict[str, Any]) -> None:
    data = await report(server, report_tenant["demo"], "from=2026-03-01&to=2026-03-02&group=day")
    assert data["from"] == "2026-03-01" and data["to"] == "2026-03-02"
    assert [row.pop("key") for row in data["rows"]] == ["2026-03-01", "2026-03-02"]
    assert [row.pop("name") for row in data["rows"]] == [None, None]
    assert data["rows"] == [
        figures(3, 3, 89.875, 75.0, 900.0, 1, 4.0, 2),
        figures(2, 0, 3.0, 60.0, None, 0, None, 0),
    ]
    assert data["total"] == TOTAL


async def test_report_by_agent(server: ServerProcess, report_tenant: dict[str, Any]) -> None:
    data = await report(server, report_tenant["demo"], "from=2026-03-01&to=2026-03-02&group=agent")
    rows = {row.pop("key"): row for row in data["rows"]}
    assert set(rows) == {None, report_tenant["a"], report_tenant["b"]}
    assert rows[report_tenant["a"]].pop("name") == "Demo Agent 1"
    assert rows[report_tenant["b"]].pop("name") == "Demo Agent 2"
    assert rows[None].pop("name") is None
    assert rows[report_tenant["a"]] == figures(2, 1, 21.375, 45.0, 600.0, 0, 5.0, 1)
    assert rows[report_tenant["b"]] == figures(1, 1, 140.0, 120.0, 1800.0, 0, 3.0, 1)
    assert rows[None] == figures(2, 1, None, None, 300.0, 1, None, 0)
    assert data["total"] == TOTAL


async def test_report_by_department(server: ServerProcess,
                                    report_tenant: dict[str, Any]) -> None:
    data = await report(server, report_tenant["demo"],
                        "from=2026-03-01&to=2026-03-02&group=department")
    rows = {row.pop("key"): row for row in data["rows"]}
    assert {k: r.pop("name") for k, r in rows.items()} == {
        report_tenant["d1"]: "Sales", report_tenant["d2"]: "Support", None: None}
    assert rows[report_tenant["d1"]] == figures(2, 2, 89.875, 75.0, 1200.0, 0, 4.0, 2)
    assert rows[report_tenant["d2"]] == figures(1, 0, 3.0, 60.0, None, 0, None, 0)
    assert rows[None] == figures(2, 1, None, None, 300.0, 1, None, 0)


async def test_one_day_and_an_empty_range(server: ServerProcess,
                                          report_tenant: dict[str, Any]) -> None:
    one = await report(server, report_tenant["demo"], "from=2026-03-02&to=2026-03-02")
    assert one["group"] == "day" and [r["key"] for r in one["rows"]] == ["2026-03-02"]
    assert one["total"]["conversations"] == 2
    empty = await report(server, report_tenant["demo"], "from=2025-01-01&to=2025-01-31")
    assert empty["rows"] == [] and empty["total"] == figures(0, 0, None, None, None, 0, None, 0)


async def test_another_tenant_sees_only_its_own(server: ServerProcess,
                                                report_tenant: dict[str, Any]) -> None:
    data = await report(server, report_tenant["other"], "from=2026-03-01&to=2026-03-02")
    assert data["total"] == figures(1, 1, None, None, 300.0, 1, 1.0, 1)


async def test_agents_visitors_and_strangers_get_no_report(
    server: ServerProcess, report_tenant: dict[str, Any]
) -> None:
    demo = report_tenant["demo"]
    path = "/api/v1/reports?from=2026-03-01&to=2026-03-02"
    agent = await login(server, demo.agents[0], demo=demo)
    assert_error_response(await get(server, path, bearer(agent["token"])), 403, "forbidden")
    visitor = await new_visitor(server)
    assert_error_response(await get(server, path, bearer(visitor["token"])), 403, "forbidden")
    assert_error_response(await get(server, path), 401, "unauthorized")


@pytest.mark.parametrize("query", [
    "from=2026-03-02&to=2026-03-01", "from=yesterday", "to=2026-13-01",
    "from=2024-01-01&to=2026-01-01", "group=week",
    "from=9999-12-31&to=9999-12-31",  # the day after the last date is past datetime's range
])
async def test_bad_report_parameters(server: ServerProcess, report_tenant: dict[str, Any],
                                     query: str) -> None:
    admin = await login(server, report_tenant["demo"].admin, demo=report_tenant["demo"])
    resp = await get(server, f"/api/v1/reports?{query}", bearer(admin["token"]))
    assert_error_response(resp, 400, "bad_request")
