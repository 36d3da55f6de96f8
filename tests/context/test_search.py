"""Conversation search: full text over message bodies (FTS5 on SQLite, FULLTEXT on
MySQL), never across tenants, notes included for agents, filters with and without q."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from tests.context.conftest import Rest
from tests.support.clients import Clients, assert_error_response, open_conversation
from tests.support.server import DemoTenant, ServerProcess


def word() -> str:
    return "zq" + uuid.uuid4().hex[:10]  # a word nobody else in the database uses


async def test_the_same_word_in_two_tenants_is_found_only_in_ones_own(
    server: ServerProcess, clients: Clients, other_tenant: DemoTenant, agent: Rest,
    foreign_admin: Rest,
) -> None:
    secret = word()
    ours = await clients.visitor(server, name="Our Visitor")
    theirs = await clients.visitor(server, demo=other_tenant, name="Their Visitor")
    our_ack = await ours.send_and_ack(f"my order {secret} never arrived")
    their_ack = await theirs.send_and_ack(f"their {secret} is private")
    results = (await agent.get("/search", q=secret)).json()["results"]
    assert [r["conv"] for r in results] == [our_ack["conv"]]
    hit = results[0]
    assert hit["message_id"] == our_ack["id"] and hit["seq"] == our_ack["seq"]
    assert secret in hit["snippet"]
    assert hit["visitor"]["name"] == "Our Visitor"
    assert hit["status"] == "queued" and hit["agent"] is None
    theirs_found = (await foreign_admin.get("/search", q=secret)).json()["results"]
    assert [r["conv"] for r in theirs_found] == [their_ack["conv"]]
    assert "private" in theirs_found[0]["snippet"]


async def test_notes_are_searchable_by_agents(server: ServerProcess, demo: DemoTenant,
                                              clients: Clients, agent: Rest) -> None:
    visitor = await clients.visitor(server)
    live = await clients.agent(server, demo.agents[0])
    conv = await open_conversation(visitor, live)
    secret = word()
    note = await live.send_and_ack(f"internal: refund {secret} approved", conv, kind="note")
    results = (await agent.get("/search", q=f"refund {secret}")).json()["results"]
    assert [(r["message_id"], r["kind"]) for r in results] == [(note["id"], "note")]
    assert results[0]["agent"]["id"] == live.login["agent"]["id"]
    await live.send_json({"type": "close", "conv": conv})
    await live.recv_event("conv.closed", conv)


async def test_every_word_must_match_and_words_match_as_prefixes(
    server: ServerProcess, clients: Clients, agent: Rest,
) -> None:
    secret = word()
    visitor = await clients.visitor(server)
    ack = await visitor.send_and_ack(f"The {secret}s about my café order, id 42")
    assert [r["message_id"] for r in (await agent.get("/search", q=secret)).json()["results"]] \
        == [ack["id"]]
    for q in (f"{secret} about", f"the {secret}", f"{secret} 42", f"{secret} cafe",
              f"{secret.upper()} ORDER"):
        found = (await agent.get("/search", q=q)).json()["results"]
        assert [r["message_id"] for r in found] == [ack["id"]], q
    assert (await agent.get("/search", q=f"{secret} missingword")).json()["results"] == []
    # Query syntax is never passed through: operators are just punctuation.
    for q in (f'"{secret}" OR x', f"{secret} NEAR(", f"+{secret} -order*", f"{secret}'); --"):
        resp = await agent.get("/search", q=q)
        assert resp.status_code == 200, resp.text


async def test_filters_narrow_the_results(server: ServerProcess, demo: DemoTenant,
                                          clients: Clients, agent: Rest) -> None:
    secret = word()
    live = await clients.agent(server, demo.agents[0])
    first = await clients.visitor(server)
    active = await open_conversation(first, live, body=f"first {secret}")
    second = await clients.visitor(server)
    queued = (await second.send_and_ack(f"second {secret}"))["conv"]
    await agent.post(f"/conversations/{queued}/labels", {"label": f"l{secret}"})
    me = live.login["agent"]["id"]

    async def convs(**params: str) -> set[str]:
        resp = await agent.get("/search", **params)
        assert resp.status_code == 200, resp.text
        return {r["conv"] for r in resp.json()["results"]}

    assert await convs(q=secret) == {active, queued}
    assert await convs(q=secret, status="active") == {active}
    assert await convs(q=secret, status="queued") == {queued}
    assert await convs(q=secret, status="open") == {active, queued}
    assert await convs(q=secret, status="closed") == set()
    assert await convs(q=secret, agent=me) == {active}
    assert await convs(q=secret, label=f"l{secret}") == {queued}
    today = dt.datetime.now(dt.UTC).date()
    assert await convs(q=secret, **{"from": str(today), "to": str(today)}) == {active, queued}
    tomorrow = str(today + dt.timedelta(days=1))
    assert await convs(q=secret, **{"from": tomorrow}) == set()
    assert await convs(q=secret, to=str(today - dt.timedelta(days=1))) == set()
    # Without q the filters select conversations.
    assert await convs(label=f"l{secret}") == {queued}
    no_q = (await agent.get("/search", label=f"l{secret}")).json()["results"]
    assert no_q[0]["message_id"] is None and no_q[0]["snippet"] is None
    assert active in await convs(agent=me, status="active", limit="100")
    assert len((await agent.get("/search", limit="1")).json()["results"]) == 1
    await live.send_json({"type": "close", "conv": active})
    await live.recv_event("conv.closed", active)
    assert await convs(q=secret, status="closed") == {active}


async def test_bad_parameters_are_refused(agent: Rest) -> None:
    for params in ({"status": "sleeping"}, {"limit": "many"}, {"from": "yesterday"},
                   {"q": "x" * 201}, {"q": "!!! ???"}, {"label": "x" * 51},
                   # past datetime's range once the day is added or the offset removed
                   {"to": "9999-12-31"}, {"from": "0001-01-01T00:00+01:00"},
                   {"to": "9999-12-31T23:59-01:00"}):
        assert_error_response(await agent.get("/search", **params), 400, "bad_request")


async def test_short_words_are_found_too(server: ServerProcess, clients: Clients,
                                         agent: Rest) -> None:
    # InnoDB does not index words under 3 characters: they are matched another way.
    secret = word()
    visitor = await clients.visitor(server)
    ack = await visitor.send_and_ack(f"{secret} go to it")
    found = (await agent.get("/search", q=f"{secret} go")).json()["results"]
    assert [r["message_id"] for r in found] == [ack["id"]]


async def test_the_department_filter(server: ServerProcess, demo: DemoTenant, clients: Clients,
                                     agent: Rest, admin: Rest) -> None:
    made = await admin.post("/departments", {"name": "dep" + uuid.uuid4().hex[:20]})
    assert made.status_code in (200, 201), made.text
    department = made.json()["id"]
    secret = word()
    live = await clients.agent(server, demo.agents[0])
    visitor = await clients.visitor(server)
    conv = await open_conversation(visitor, live, body=f"sales {secret}")
    other = await clients.visitor(server)
    elsewhere = (await other.send_and_ack(f"other {secret}"))["conv"]
    await live.send_json({"type": "transfer", "conv": conv, "to_department": department})
    await live.recv_event("conv.transferred", conv)
    found = (await agent.get("/search", q=secret, department=department)).json()["results"]
    assert [r["conv"] for r in found] == [conv]
    assert found[0]["department"] == department
    assert {r["conv"] for r in (await agent.get("/search", q=secret)).json()["results"]} == {
        conv, elsewhere}


def han(n: int) -> str:
    """``n`` random CJK ideographs: a run nobody else in the database has."""
    return "".join(chr(0x4E00 + secrets.randbelow(0x9FA0 - 0x4E00)) for _ in range(n))


def kana(n: int) -> str:
    return "".join(chr(0x30A1 + secrets.randbelow(0x30F6 - 0x30A1)) for _ in range(n))


async def found(rest: Rest, q: str) -> list[str]:
    resp = await rest.get("/search", q=q)
    assert resp.status_code == 200, resp.text
    return [r["message_id"] for r in resp.json()["results"]]


async def test_chinese_is_found_by_any_substring_of_two_or_more_characters(
    server: ServerProcess, clients: Clients, other_tenant: DemoTenant, agent: Rest,
    foreign_admin: Rest,
) -> None:
    # Inside one run of characters (no spaces): the old word index found only its start.
    secret = han(6)
    ours = await clients.visitor(server)
    theirs = await clients.visitor(server, demo=other_tenant)
    ack = await ours.send_and_ack(f"你好，请帮我查一下{secret}的订单还没有到 order 42")  # noqa: RUF001
    their_ack = await theirs.send_and_ack(f"他们的{secret}是私密的")
    for q in (secret[2:4], secret[1:5], secret, f"查一下{secret[:2]}", f"{secret[-2:]}的订单",
              f"{secret[3:5]} order", f"42 {secret[1:3]}", f"你好 {secret[4:]}"):
        assert await found(agent, q) == [ack["id"]], q
    hit = (await agent.get("/search", q=secret[2:4])).json()["results"][0]
    assert secret[2:4] in hit["snippet"]
    # Every bigram of the query is in the text, but not in a row: no hit.
    assert await found(agent, secret[0:2] + secret[3:5]) == []
    assert await found(agent, f"{secret[2:4]} missingword") == []
    # The same text in another tenant: each finds only its own, short or long query.
    for q in (secret[2:4], secret[1:5]):
        assert await found(foreign_admin, q) == [their_ack["id"]], q


async def test_japanese_is_found_by_any_substring_of_two_or_more_characters(
    server: ServerProcess, clients: Clients, other_tenant: DemoTenant, agent: Rest,
    foreign_admin: Rest,
) -> None:
    # Kanji, hiragana and katakana (with the long-vowel mark ー) in one run.
    secret = kana(3) + "ー" + han(2)
    ours = await clients.visitor(server)
    theirs = await clients.visitor(server, demo=other_tenant)
    ack = await ours.send_and_ack(f"東京駅で{secret}カードを落としました。iPhone充電器も")
    their_ack = await theirs.send_and_ack(f"大阪で{secret}を買いました")
    for q in (secret[2:4], secret[3:5], secret[1:6], f"駅で{secret[:2]}", f"{secret[-2:]}カード",
              f"{secret[1:3]}　iphone", f"{secret[4:]} 充電器"):
        assert await found(agent, q) == [ack["id"]], q
    assert await found(agent, secret[0:2] + secret[3:5]) == []
    for q in (secret[2:4], secret[1:6]):
        assert await found(foreign_admin, q) == [their_ack["id"]], q
    assert ack["id"] not in await found(foreign_admin, secret[2:4])
