"""One-time link codes (BRIDGES.md §1): an agent's code, claimed by a bridge of its tenant
for a chat-app user; single use, ten minutes, guess-resistant, and every refusal."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re

from tests.admin.conftest import call, code
from tests.support.bridges import (
    link_code,
    new_agent,
    new_bridge,
    run_cli,
    token_of,
)
from tests.support.server import DemoTenant, ServerFactory, ServerProcess

CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


async def claim(server: ServerProcess, bridge_token: str, the_code: str,
                external_user: str = "T01:U01") -> tuple[int, dict[str, object]]:
    resp = await call(server, "POST", "/api/v1/bridges/links", token=bridge_token,
                      body={"code": the_code, "external_user": external_user})
    return resp.status_code, resp.json()


async def test_an_agent_gets_a_code_that_links_a_chat_user_once(
    server: ServerProcess, tenant: DemoTenant, admin_token: str
) -> None:
    bridge = await new_bridge(server, admin_token)
    agent_token = await token_of(server, tenant.agents[0], tenant)
    resp = await call(server, "POST", "/api/v1/me/link-code", token=agent_token)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"code", "expires_at"} and CODE.match(body["code"]), body
    expires = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    left = (expires - dt.datetime.now(dt.UTC)).total_seconds()
    assert 590 <= left <= 601, left

    typed = body["code"].lower().replace("-", " ")  # as a person might type it
    status, linked = await claim(server, bridge.token, typed, "TTEAM1:UALICE")
    me = (await call(server, "GET", "/api/v1/me", token=agent_token)).json()
    assert status == 200 and linked == {"agent_id": me["id"]}
    status, again = await claim(server, bridge.token, body["code"], "TTEAM1:UMALLORY")
    assert status == 400 and again["error"]["code"] == "bad_link_code"
    links = await call(server, "GET", f"/api/v1/bridges/{bridge.id}/links", token=admin_token)
    assert [(x["external_user"], x["agent"]["id"]) for x in links.json()["links"]] == [
        ("TTEAM1:UALICE", me["id"])]
    own = await call(server, "GET", f"/api/v1/bridges/{bridge.id}/links", token=bridge.token)
    assert own.status_code == 200 and own.json() == links.json()


async def test_a_new_code_replaces_the_old_and_relinking_moves_the_user(
    server: ServerProcess, tenant: DemoTenant, admin_token: str
) -> None:
    bridge = await new_bridge(server, admin_token, kind="telegram")
    first_token = await token_of(server, tenant.agents[0], tenant)
    old = await link_code(server, first_token)
    new = await link_code(server, first_token)
    assert (await claim(server, bridge.token, old, "1001"))[0] == 400
    assert (await claim(server, bridge.token, new, "1001"))[0] == 200
    second_token = await token_of(server, tenant.agents[1], tenant)
    status, moved = await claim(server, bridge.token, await link_code(server, second_token),
                                "1001")
    second = (await call(server, "GET", "/api/v1/me", token=second_token)).json()["id"]
    assert status == 200 and moved == {"agent_id": second}
    links = (await call(server, "GET", f"/api/v1/bridges/{bridge.id}/links",
                        token=admin_token)).json()["links"]
    assert [(x["external_user"], x["agent"]["id"]) for x in links] == [("1001", second)]


async def test_codes_are_refused_across_tenants_for_disabled_agents_and_bad_users(
    server: ServerProcess, tenant: DemoTenant, other: DemoTenant, admin_token: str
) -> None:
    bridge = await new_bridge(server, admin_token)
    foreign = await link_code(server, await token_of(server, other.agents[0], other))
    status, body = await claim(server, bridge.token, foreign)
    assert status == 400 and body["error"]["code"] == "bad_link_code"
    other_admin = await token_of(server, other.admin, other)
    other_bridge = await new_bridge(server, other_admin)
    mine = await link_code(server, await token_of(server, tenant.agents[0], tenant))
    assert (await claim(server, other_bridge.token, mine))[0] == 400
    assert (await claim(server, bridge.token, mine))[0] == 200  # unharmed by the attempt

    agent_id, agent_token = await new_agent(server, admin_token, tenant)
    pending = await link_code(server, agent_token)
    assert (await call(server, "POST", f"/api/v1/agents/{agent_id}/disable",
                       token=admin_token)).status_code == 200
    assert (await claim(server, bridge.token, pending))[0] == 400

    fresh = await link_code(server, await token_of(server, tenant.agents[1], tenant))
    for bad_user in ("UALONE", "T1:U1:X", "T 1:U1", "", "T1/U1:U2"):
        status, body = await claim(server, bridge.token, fresh, bad_user)
        assert status == 400 and body["error"]["code"] == "bad_request", (bad_user, body)
    telegram = await new_bridge(server, admin_token, kind="telegram")
    assert (await claim(server, telegram.token, fresh, "T1:U1"))[0] == 400
    for shape in ({"code": fresh}, {"external_user": "T1:U1"}, {"code": 12, "external_user": "a:b"},
                  {"code": fresh, "external_user": "T1:U1", "agent_id": "x"}):
        resp = await call(server, "POST", "/api/v1/bridges/links", token=bridge.token, body=shape)
        assert resp.status_code == 400 and code(resp) == "bad_request", (shape, resp.text)
    assert (await claim(server, bridge.token, fresh, "T1:U1"))[0] == 200  # still good


async def test_guessing_is_cut_off_per_bridge(
    server: ServerProcess, tenant: DemoTenant, admin_token: str
) -> None:
    guesser = await new_bridge(server, admin_token, name="guesser")
    honest = await new_bridge(server, admin_token, name="honest")
    for guess in range(10):
        status, body = await claim(server, guesser.token, f"AAAA-AAAA-{guess:04d}")
        assert status == 400 and body["error"]["code"] == "bad_link_code"
    real = await link_code(server, await token_of(server, tenant.agents[0], tenant))
    status, body = await claim(server, guesser.token, real)
    assert status == 429 and body["error"]["code"] == "too_many_attempts"
    assert (await claim(server, honest.token, real))[0] == 200
    audit = await call(server, "GET",
                       f"/api/v1/audit?action=bridge.link_refused&actor=bridge:{guesser.id}",
                       token=admin_token)
    assert len(audit.json()["entries"]) == 10


async def test_only_a_bridge_claims_and_only_an_agent_asks(
    server: ServerProcess, tenant: DemoTenant, admin_token: str
) -> None:
    bridge = await new_bridge(server, admin_token)
    agent_token = await token_of(server, tenant.agents[0], tenant)
    the_code = await link_code(server, agent_token)
    for token in (agent_token, admin_token):
        resp = await call(server, "POST", "/api/v1/bridges/links", token=token,
                          body={"code": the_code, "external_user": "T1:U1"})
        assert resp.status_code == 403, resp.text
    assert (await call(server, "POST", "/api/v1/bridges/links",
                       body={"code": the_code, "external_user": "T1:U1"})).status_code == 401
    resp = await call(server, "POST", "/api/v1/me/link-code", token=bridge.token)
    assert resp.status_code == 403
    revoked = await new_bridge(server, admin_token)
    await call(server, "DELETE", f"/api/v1/bridges/{revoked.id}", token=admin_token)
    assert (await claim(server, revoked.token, the_code))[0] == 401
    assert (await claim(server, bridge.token, the_code))[0] == 200


async def test_the_cli_prints_a_code_a_bridge_can_claim(
    server: ServerProcess, tenant: DemoTenant, admin_token: str
) -> None:
    bridge = await new_bridge(server, admin_token)
    email = tenant.agents[1].email
    bare = (await asyncio.to_thread(run_cli, server, "bridge", "link-code", "--tenant",
                                    tenant.tenant, "--agent", email)).strip()
    assert CODE.match(bare), bare
    as_json = json.loads(await asyncio.to_thread(
        run_cli, server, "bridge", "link-code", "--tenant", tenant.tenant, "--agent",
        email.upper(), "--json"))
    assert set(as_json) == {"code", "expires_at"} and CODE.match(as_json["code"])
    assert (await claim(server, bridge.token, bare))[0] == 400  # replaced by the second
    assert (await claim(server, bridge.token, as_json["code"]))[0] == 200
    failed = await asyncio.to_thread(run_cli, server, "bridge", "link-code", "--tenant",
                                     tenant.tenant, "--agent", "nobody@example.com", ok=False)
    assert failed.startswith("steadydesk: ") and len(failed.strip().splitlines()) == 1


async def test_a_code_expires(server_factory: ServerFactory) -> None:
    server = server_factory({"STEADY_LINK_CODE_TTL_SECS": "1"})
    assert server.demo is not None
    admin_token = await token_of(server, server.demo.admin, server.demo)
    bridge = await new_bridge(server, admin_token)
    the_code = await link_code(server, await token_of(server, server.demo.agents[0],
                                                      server.demo))
    await asyncio.sleep(1.2)
    status, body = await claim(server, bridge.token, the_code)
    assert status == 400 and body["error"]["code"] == "bad_link_code"
