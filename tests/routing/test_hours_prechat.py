"""Working hours, availability, greetings, offline conversations and the pre-chat form,
through the real session endpoint, the admin routes and the visitor's stream."""

from __future__ import annotations

from typing import Any

from tests.routing.support import Tenant, new_tenant
from tests.support.clients import Clients, assert_error_response
from tests.support.http import http_client
from tests.support.server import ServerProcess

ALWAYS = {
    "tz": "Asia/Shanghai",
    "days": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}
NEVER = {"tz": "Asia/Shanghai", "days": {}}
MESSAGES = {
    "welcome_message": "Hi! How can we help?",
    "after_hours_message": "We are closed; leave a message and we will write back.",
}


async def set_hours(t: Tenant, hours: Any, **messages: str) -> dict[str, Any]:
    resp = await t.call(
        "PUT", f"/sites/{t.site}/hours", t.admin_token, {"hours": hours, **messages}
    )
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def test_hours_round_trip_and_are_audited(server: ServerProcess) -> None:
    t = await new_tenant(server)
    saved = await set_hours(
        t, {"tz": "Europe/Berlin", "days": {"mon": [["09:00", "17:00"]]}}, **MESSAGES
    )
    assert saved["hours"]["tz"] == "Europe/Berlin"
    assert saved["hours"]["days"]["mon"] == [["09:00", "17:00"]]
    assert saved["hours"]["days"]["sun"] == []
    got = await t.call("GET", f"/sites/{t.site}/hours", t.admin_token)
    assert got.status_code == 200 and got.json() == saved
    assert [a.target for a in t.audit("site.hours")] == [t.site]
    bad = await t.call(
        "PUT",
        f"/sites/{t.site}/hours",
        t.admin_token,
        {"hours": {"tz": "Nowhere/Land", "days": {}}},
    )
    assert_error_response(bad, 400, "bad_request")


async def test_session_says_after_hours_with_the_next_opening(server: ServerProcess) -> None:
    t = await new_tenant(server)
    await set_hours(t, {"tz": "UTC", "days": {"mon": [["09:00", "09:01"]]}}, **MESSAGES)
    resp = await t.session(name="Ada")
    assert resp.status_code == 200
    data = resp.json()
    for field in ("visitor_id", "token", "expires_at", "conversation"):
        assert field in data  # every existing field stays
    availability = data["availability"]
    if availability["reason"] == "after_hours":  # 1 minute a week it is open
        assert availability["open"] is False
        assert availability["message"] == MESSAGES["after_hours_message"]
        assert availability["next_open"].endswith("T09:00:00.000Z")


async def test_nobody_online_in_hours_is_not_open(server: ServerProcess, clients: Clients) -> None:
    t = await new_tenant(server)
    await set_hours(t, ALWAYS, **MESSAGES)
    closed = (await t.session()).json()["availability"]
    assert closed == {
        "open": False,
        "reason": "no_agents_online",
        "message": MESSAGES["after_hours_message"],
        "next_open": None,
    }
    await t.agent(clients, 0)
    opened = (await t.session()).json()["availability"]
    assert opened == {
        "open": True,
        "reason": None,
        "message": MESSAGES["welcome_message"],
        "next_open": None,
    }


async def test_without_hours_a_site_is_open_when_an_agent_is(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    await t.agent(clients, 1)
    availability = (await t.session()).json()["availability"]
    assert availability["open"] is True and availability["message"] is None


async def test_after_hours_message_once_and_an_offline_conversation(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    await set_hours(t, NEVER, **MESSAGES)
    agent = await t.agent(clients, 0)  # online, but the site is closed
    visitor = await clients.visitor(server, session=(await t.session()).json(), demo=t.demo)
    first = await visitor.send_and_ack("Is anyone there?")
    conv = first["conv"]
    greeting = await visitor.recv_until(
        lambda f: f["type"] == "message" and f["sender"]["type"] == "system"
    )
    # The greeting is stored before the visitor's first message (issue #19).
    assert greeting["seq"] == 1 and greeting["body"] == MESSAGES["after_hours_message"]
    assert first["seq"] == 2
    await visitor.send_and_ack("My order 42 never arrived")
    await visitor.expect_no_frame(
        lambda f: f["type"] == "message" and f["sender"]["type"] == "system" and f["seq"] != 1,
        within=0.5,
    )
    history = await visitor.history(conv)
    assert [m["sender"]["type"] for m in history] == ["system", "visitor", "visitor"]
    assert t.conversation(conv).offline is True
    listed = await t.call("GET", "/conversations?offline=1", t.agent_tokens[0])
    assert [c["id"] for c in listed.json()["conversations"]] == [conv]
    assert listed.json()["conversations"][0]["offline"] is True
    online = await t.call("GET", "/conversations?offline=0", t.agent_tokens[0])
    assert conv not in [c["id"] for c in online.json()["conversations"]]
    queued = await agent.recv_event("conv.queued", conv)
    assert queued["data"]["status"] == "queued"


async def test_welcome_message_in_hours(server: ServerProcess, clients: Clients) -> None:
    t = await new_tenant(server)
    await set_hours(t, ALWAYS, **MESSAGES)
    await t.agent(clients, 0)
    visitor = await clients.visitor(server, session=(await t.session()).json(), demo=t.demo)
    ack = await visitor.send_and_ack("hello")
    greeting = await visitor.recv_until(
        lambda f: f["type"] == "message" and f["sender"]["type"] == "system"
    )
    assert greeting["body"] == MESSAGES["welcome_message"]
    assert t.conversation(ack["conv"]).offline is False


async def test_greeting_comes_before_the_first_message_and_previews_end_with_the_visitor(
    server: ServerProcess, clients: Clients
) -> None:
    """Issue #19: the greeting is seq 1, the visitor's first message seq 2; agents hear of
    the conversation once (conv.queued, its preview ending with the visitor's words), a
    second message is a conv.updated, and the REST card's last message is the visitor's."""
    t = await new_tenant(server)
    await set_hours(t, ALWAYS, **MESSAGES)
    agent = await t.agent(clients, 0)
    visitor = await clients.visitor(server, session=(await t.session()).json(), demo=t.demo)
    ack = await visitor.send_and_ack("Where is my parcel?")
    conv = ack["conv"]
    assert ack["seq"] == 2
    queued = await agent.recv_event("conv.queued", conv)
    preview = queued["data"]["messages"]
    assert [(m["seq"], m["sender"]["type"]) for m in preview] == [(1, "system"), (2, "visitor")]
    assert preview[0]["body"] == MESSAGES["welcome_message"]
    assert preview[-1]["body"] == "Where is my parcel?"
    listed = await t.call("GET", "/conversations?status=queued", t.agent_tokens[0])
    card = next(c for c in listed.json()["conversations"] if c["id"] == conv)
    assert card["last_message"]["body"] == "Where is my parcel?"
    await visitor.send_and_ack("It was due on Monday")
    updated = await agent.recv_event("conv.updated", conv)
    assert updated["data"]["message"]["body"] == "It was due on Monday"
    await agent.expect_no_frame(
        lambda f: f.get("name") == "conv.queued" and f.get("conv") == conv, within=0.5
    )
    history = await visitor.history(conv)
    assert [m["sender"]["type"] for m in history] == ["system", "visitor", "visitor"]


async def test_prechat_config_and_department_choice(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Returns", [1])
    config = {"enabled": True, "fields": ["email", "name", "department"], "required": ["email"]}
    resp = await t.call("PUT", f"/sites/{t.site}/prechat", t.admin_token, config)
    assert resp.status_code == 200, resp.text
    assert resp.json()["fields"] == ["name", "email", "department"]
    assert [a.target for a in t.audit("site.prechat")] == [t.site]
    session = (await t.session()).json()
    assert session["prechat"]["enabled"] is True
    assert session["prechat"]["required"] == ["email"]
    assert session["prechat"]["departments"] == [{"id": dep, "name": "Returns"}]
    agent = await t.agent(clients, 1)
    chosen = (await t.session(name="Bo", email="bo@example.com", department=dep)).json()
    visitor = await clients.visitor(server, session=chosen, demo=t.demo)
    ack = await visitor.send_and_ack("where is my refund?")
    queued = await agent.recv_event("conv.queued", ack["conv"])
    assert queued["data"]["department"] == dep
    assert queued["data"]["visitor"]["email"] == "bo@example.com"


async def test_unknown_or_foreign_departments_are_refused(server: ServerProcess) -> None:
    t = await new_tenant(server)
    other = await new_tenant(server)
    foreign = other.department("Theirs", [0])
    for department in (foreign, "01NOSUCHDEPARTMENT00000000", 42):
        resp = await t.session(department=department)
        assert_error_response(resp, 400, "bad_request")
    # A refused origin is refused first: it cannot tell real department ids from others.
    async with http_client(base_url=server.url, timeout=10) as http:
        probe = await http.post(
            "/api/v1/visitor/session",
            json={"site_key": other.site, "department": foreign},
            headers={"Origin": "https://evil.example"},
        )
    assert_error_response(probe, 403, "origin_not_allowed")
    bad = await t.call(
        "PUT",
        f"/sites/{t.site}/prechat",
        t.admin_token,
        {"enabled": True, "fields": ["name"], "required": ["email"]},
    )
    assert_error_response(bad, 400, "bad_request")


async def test_a_first_message_without_the_required_prechat_fields_is_refused(
    server: ServerProcess, clients: Clients
) -> None:
    """The server enforces the form, not only the widget (issue #21, item 3): a visitor
    who has not given a required field cannot open a conversation (``prechat_required``,
    naming the fields, nothing stored); once given, the same cid goes through."""
    t = await new_tenant(server)
    dep = t.department("Billing", [0])
    config = {"enabled": True, "fields": ["name", "email", "department"],
              "required": ["name", "email", "department"]}  # fmt: skip
    resp = await t.call("PUT", f"/sites/{t.site}/prechat", t.admin_token, config)
    assert resp.status_code == 200, resp.text
    agent = await t.agent(clients, 0)

    session = (await t.session(name="  ")).json()  # blank counts as missing
    visitor = await clients.visitor(server, session=session, demo=t.demo)
    cid = await visitor.send_message("skipping the form")
    refused = await visitor.wait_ack(cid)
    assert refused["type"] == "error" and refused["code"] == "prechat_required", refused
    assert refused["fields"] == ["name", "email", "department"]
    assert "name, email, department" in refused["message"]

    # Some given: only the rest are named. Still nothing stored, nobody told.
    await t.session(token=session["token"], name="Ada", email="ada@example.com")
    await visitor.send_message("still no department", cid=cid)
    again = await visitor.wait_ack(cid)
    assert again["code"] == "prechat_required" and again["fields"] == ["department"]
    listed = await t.call("GET", "/conversations?status=open", t.agent_tokens[0])
    assert listed.json()["conversations"] == []
    await agent.expect_no_frame(lambda f: f.get("name") == "conv.queued", within=0.3)

    await t.session(token=session["token"], department=dep)
    ack = await visitor.send_and_ack("now with everything", cid=cid)
    assert ack["seq"] == 1
    queued = await agent.recv_event("conv.queued", ack["conv"])
    assert queued["data"]["department"] == dep
    # The visitor's next message, and a follow-up after a close, need nothing more.
    await visitor.send_and_ack("and one more", conv=ack["conv"])

    # Turned off, the form asks nothing: a visitor without any details may start.
    config["enabled"] = False
    resp = await t.call("PUT", f"/sites/{t.site}/prechat", t.admin_token, config)
    assert resp.status_code == 200, resp.text
    bare = await clients.visitor(server, session=(await t.session()).json(), demo=t.demo)
    assert (await bare.send_and_ack("no form today"))["seq"] == 1
