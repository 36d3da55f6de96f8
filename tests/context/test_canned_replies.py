"""Canned replies over REST: tenant-wide ones are the admins' to write and every agent's
to read; personal ones belong to one agent and are invisible to everyone else."""

from __future__ import annotations

import uuid

import peewee as pw

from tests.context.conftest import Rest, query_rows, rest_as
from tests.support.clients import Clients, assert_error_response
from tests.support.server import DemoTenant, ServerProcess


def shortcut(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def create(rest: Rest, scope: str, short: str, body: str = "Hello!") -> dict:
    resp = await rest.post("/canned-replies", {"scope": scope, "shortcut": short, "body": body})
    assert resp.status_code == 201, resp.text
    data: dict = resp.json()
    return data


async def test_admin_writes_tenant_wide_replies_every_agent_reads_them(
    admin: Rest, agent: Rest, agent2: Rest, server_db: pw.Database,
) -> None:
    short = shortcut("hello")
    reply = await create(admin, "tenant", short, "Hi {visitor.name}!")
    assert reply["scope"] == "tenant"
    for reader in (agent, agent2, admin):
        listed = (await reader.get("/canned-replies")).json()["canned_replies"]
        assert any(r["id"] == reply["id"] for r in listed)
    resp = await admin.patch(f"/canned-replies/{reply['id']}", {"body": "Hello {visitor.name}"})
    assert resp.status_code == 200 and resp.json()["body"] == "Hello {visitor.name}"
    assert (await admin.delete(f"/canned-replies/{reply['id']}")).status_code == 200
    listed = (await agent.get("/canned-replies")).json()["canned_replies"]
    assert all(r["id"] != reply["id"] for r in listed)
    actions = [row[0] for row in query_rows(
        server_db, "SELECT action FROM audit_log WHERE target = ? ORDER BY id", reply["id"])]
    assert actions == ["canned_reply.create", "canned_reply.update", "canned_reply.delete"]


async def test_an_agent_cannot_write_tenant_wide_replies(admin: Rest, agent: Rest) -> None:
    resp = await agent.post("/canned-replies",
                            {"scope": "tenant", "shortcut": shortcut("x"), "body": "nope"})
    assert_error_response(resp, 403, "forbidden")
    reply = await create(admin, "tenant", shortcut("shared"))
    assert_error_response(await agent.patch(f"/canned-replies/{reply['id']}", {"body": "mine"}),
                          403, "forbidden")
    assert_error_response(await agent.delete(f"/canned-replies/{reply['id']}"), 403, "forbidden")
    listed = (await agent.get("/canned-replies")).json()["canned_replies"]
    assert [r["body"] for r in listed if r["id"] == reply["id"]] == ["Hello!"]


async def test_personal_replies_are_invisible_to_other_agents(agent: Rest, agent2: Rest,
                                                              admin: Rest) -> None:
    mine = await create(agent, "personal", shortcut("mine"), "my secret phrasing")
    assert mine["scope"] == "personal"
    assert any(r["id"] == mine["id"] for r in (await agent.get("/canned-replies")).json()
               ["canned_replies"])
    for other in (agent2, admin):
        listed = (await other.get("/canned-replies")).json()["canned_replies"]
        assert all(r["id"] != mine["id"] for r in listed)
        assert_error_response(await other.patch(f"/canned-replies/{mine['id']}", {"body": "x"}),
                              404, "not_found")
        assert_error_response(await other.delete(f"/canned-replies/{mine['id']}"), 404)
        resp = await other.post(f"/canned-replies/{mine['id']}/render", {"conv": "whatever"})
        assert_error_response(resp, 404)
    resp = await agent.patch(f"/canned-replies/{mine['id']}", {"shortcut": "/" + shortcut("re")})
    assert resp.status_code == 200, resp.text
    assert (await agent.delete(f"/canned-replies/{mine['id']}")).status_code == 200


async def test_shortcuts_are_unique_per_scope(admin: Rest, agent: Rest, agent2: Rest) -> None:
    short = shortcut("dup")
    await create(admin, "tenant", short)
    assert_error_response(
        await admin.post("/canned-replies", {"scope": "tenant", "shortcut": short, "body": "b"}),
        409, "shortcut_taken")
    # The same shortcut in each agent's own scope is fine, once per agent.
    await create(agent, "personal", short)
    await create(agent2, "personal", short)
    assert_error_response(
        await agent.post("/canned-replies", {"scope": "personal", "shortcut": short, "body": "b"}),
        409, "shortcut_taken")
    other = await create(agent, "personal", shortcut("other"))
    assert_error_response(
        await agent.patch(f"/canned-replies/{other['id']}", {"shortcut": short}),
        409, "shortcut_taken")


async def test_bad_input_is_refused(agent: Rest) -> None:
    for body in (
        {"scope": "personal", "shortcut": "", "body": "x"},
        {"scope": "personal", "shortcut": "has space", "body": "x"},
        {"scope": "personal", "shortcut": "x" * 65, "body": "x"},
        {"scope": "personal", "shortcut": "ok", "body": ""},
        {"scope": "personal", "shortcut": "ok", "body": "x" * 4001},
        {"scope": "everyone", "shortcut": "ok", "body": "x"},
    ):
        assert_error_response(await agent.post("/canned-replies", body), 400, "bad_request")
    resp = await agent.call("POST", "/canned-replies", None)
    assert_error_response(resp, 400)


async def test_render_fills_placeholders_once_and_leaves_unknown_ones(
    server: ServerProcess, demo: DemoTenant, clients: Clients, admin: Rest, agent: Rest,
) -> None:
    visitor = await clients.visitor(server, name="{agent.name} {conversation.id}",
                                    email="v@example.com")
    ack = await visitor.send_and_ack("hello")
    conv = ack["conv"]
    template = ("Hi {visitor.name} <{visitor.email}>, I'm {agent.name} on {conversation.id}. "
                "{visitor.phone} {visitor.__class__} {0} {{visitor.name}}")
    reply = await create(admin, "tenant", shortcut("tpl"), template)
    resp = await agent.post(f"/canned-replies/{reply['id']}/render", {"conv": conv})
    assert resp.status_code == 200, resp.text
    me = (await agent.get("/me")).json()
    assert resp.json()["body"] == (
        f"Hi {{agent.name}} {{conversation.id}} <v@example.com>, I'm {me['name']} on {conv}. "
        "{visitor.phone} {visitor.__class__} {0} {{agent.name} {conversation.id}}")
    assert_error_response(await agent.post(f"/canned-replies/{reply['id']}/render", {}), 400)
    assert_error_response(
        await agent.post(f"/canned-replies/{reply['id']}/render", {"conv": "nope"}), 404)


async def test_another_tenant_sees_nothing(
    server: ServerProcess, clients: Clients, admin: Rest, foreign_admin: Rest,
) -> None:
    reply = await create(admin, "tenant", shortcut("ours"))
    listed = (await foreign_admin.get("/canned-replies")).json()["canned_replies"]
    assert all(r["id"] != reply["id"] for r in listed)
    assert_error_response(
        await foreign_admin.patch(f"/canned-replies/{reply['id']}", {"body": "x"}), 404)
    assert_error_response(await foreign_admin.delete(f"/canned-replies/{reply['id']}"), 404)
    # Rendering their own reply against our conversation: the conversation is unknown.
    theirs = await create(foreign_admin, "tenant", shortcut("theirs"), "{conversation.id}")
    visitor = await clients.visitor(server)
    conv = (await visitor.send_and_ack("hi"))["conv"]
    assert_error_response(
        await foreign_admin.post(f"/canned-replies/{theirs['id']}/render", {"conv": conv}), 404)


async def test_visitors_and_strangers_are_refused(server: ServerProcess,
                                                  clients: Clients) -> None:
    visitor = await clients.visitor(server)
    as_visitor = Rest(server, visitor.session["token"])
    assert_error_response(await as_visitor.get("/canned-replies"), 403)
    assert_error_response(await Rest(server, None).get("/canned-replies"), 401)
    assert_error_response(
        await as_visitor.post("/canned-replies", {"shortcut": "a", "body": "b"}), 403)


async def test_personal_replies_are_limited_per_agent_by_a_tenant_setting(
    server: ServerProcess, agent: Rest,
) -> None:
    """``limits.canned_personal_max`` (default 200) counts one agent's personal replies;
    past it ``409 limit_reached`` in the usual error shape. Tenant-wide replies and other
    agents' (or tenants') replies do not count, and only an admin changes the limit."""
    limited = server.run_demo("canned-limit")
    admin_l = await rest_as(server, limited.admin, limited)
    first = await rest_as(server, limited.agents[0], limited)
    second = await rest_as(server, limited.agents[1], limited)
    settings = (await admin_l.get("/settings")).json()
    assert settings["limits"]["canned_personal_max"] == 200

    # An agent may not raise (or set) it: that is the admins' setting.
    refused = await first.call("PUT", "/settings", {"limits": {"canned_personal_max": 1000}})
    assert_error_response(refused, 403, "forbidden")
    for bad in (-1, 1001, "many", None):
        resp = await admin_l.call("PUT", "/settings", {"limits": {"canned_personal_max": bad}})
        assert_error_response(resp, 400, "bad_request")
    resp = await admin_l.call("PUT", "/settings", {"limits": {"canned_personal_max": 2}})
    assert resp.status_code == 200, resp.text

    mine = [await create(first, "personal", shortcut(f"p{i}")) for i in range(2)]
    over = await first.post("/canned-replies",
                            {"scope": "personal", "shortcut": shortcut("over"), "body": "x"})
    assert_error_response(over, 409, "limit_reached")
    assert "2" in over.json()["error"]["message"]
    listed = (await first.get("/canned-replies")).json()["canned_replies"]
    assert sorted(r["id"] for r in listed if r["scope"] == "personal") == sorted(
        r["id"] for r in mine)

    # Per agent: the second agent has its own two; tenant-wide ones are not counted.
    for i in range(2):
        await create(second, "personal", shortcut(f"q{i}"))
    await create(admin_l, "tenant", shortcut("shared"))
    assert_error_response(await second.post(
        "/canned-replies", {"scope": "personal", "shortcut": shortcut("q"), "body": "x"}),
        409, "limit_reached")
    # An edit is no new reply; a delete makes room.
    resp = await first.patch(f"/canned-replies/{mine[0]['id']}", {"body": "edited"})
    assert resp.status_code == 200, resp.text
    assert (await first.delete(f"/canned-replies/{mine[0]['id']}")).status_code == 200
    await create(first, "personal", shortcut("again"))

    # Zero: no personal replies at all. Another tenant keeps its own default.
    resp = await admin_l.call("PUT", "/settings", {"limits": {"canned_personal_max": 0}})
    assert resp.status_code == 200, resp.text
    assert_error_response(await admin_l.post(
        "/canned-replies", {"scope": "personal", "shortcut": shortcut("a"), "body": "x"}),
        409, "limit_reached")
    for i in range(3):
        await create(agent, "personal", shortcut(f"demo{i}"))
