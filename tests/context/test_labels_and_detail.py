"""Labels on conversations, the conversation detail and the visitor context over REST:
agents of the tenant only; another tenant's ids answer like unknown ones (404)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from tests.context.conftest import Rest
from tests.support.bridges import connect_bridge, new_bridge
from tests.support.clients import Clients, Frame, assert_error_response, cached_login
from tests.support.server import DemoTenant, ServerProcess


async def new_conv(server: ServerProcess, clients: Clients, **fields: str) -> tuple[str, str]:
    visitor = await clients.visitor(server, **fields)
    ack = await visitor.send_and_ack("hello there")
    return str(ack["conv"]), str(visitor.session["visitor_id"])


async def test_agents_add_list_and_remove_labels(server: ServerProcess, clients: Clients,
                                                 agent: Rest, agent2: Rest) -> None:
    conv, _ = await new_conv(server, clients)
    tag = f"billing-{uuid.uuid4().hex[:6]}"
    resp = await agent.post(f"/conversations/{conv}/labels", {"label": f"  {tag.upper()} "})
    assert resp.status_code == 200, resp.text
    assert resp.json()["labels"] == [tag]
    again = await agent2.post(f"/conversations/{conv}/labels", {"label": tag})
    assert again.json()["labels"] == [tag], "adding twice is harmless"
    await agent2.post(f"/conversations/{conv}/labels", {"label": "vip"})
    assert (await agent.get(f"/conversations/{conv}/labels")).json()["labels"] == [tag, "vip"]
    counts = {row["label"]: row["count"] for row in (await agent.get("/labels")).json()["labels"]}
    assert counts[tag] == 1
    other, _ = await new_conv(server, clients)
    await agent.post(f"/conversations/{other}/labels", {"label": tag})
    counts = {row["label"]: row["count"] for row in (await agent.get("/labels")).json()["labels"]}
    assert counts[tag] == 2
    resp = await agent.delete(f"/conversations/{conv}/labels/{tag}")
    assert resp.json()["labels"] == ["vip"]
    # A label with a space (or anything but "/") is addressable in the path.
    await agent.post(f"/conversations/{conv}/labels", {"label": "Needs  Follow-up ü"})
    resp = await agent.delete(f"/conversations/{conv}/labels/needs follow-up ü")
    assert resp.status_code == 200 and resp.json()["labels"] == ["vip"], resp.text
    detail = (await agent.get(f"/conversations/{conv}")).json()
    assert detail["labels"] == ["vip"]


async def test_every_change_of_a_conversations_labels_has_the_next_version(
    server: ServerProcess, clients: Clients, agent: Rest, agent2: Rest
) -> None:
    """The version moves with each change and only then, in the change's transaction, so
    two agents changing one chat's labels at once get distinct versions whose highest
    holds the final set (a console keeps the set of the highest version it saw)."""
    conv, _ = await new_conv(server, clients)
    first = (await agent.post(f"/conversations/{conv}/labels", {"label": "a"})).json()
    assert first == {"labels": ["a"], "version": 1}
    same = (await agent2.post(f"/conversations/{conv}/labels", {"label": "A "})).json()
    assert same == {"labels": ["a"], "version": 1}, "no change, no new version"
    absent = (await agent2.delete(f"/conversations/{conv}/labels/zz")).json()
    assert absent == {"labels": ["a"], "version": 1}
    names = [f"l{n}" for n in range(12)]
    answers = await asyncio.gather(*(
        (agent if n % 2 else agent2).post(f"/conversations/{conv}/labels", {"label": name})
        for n, name in enumerate(names)
    ))
    bodies = [r.json() for r in answers]
    assert sorted(b["version"] for b in bodies) == list(range(2, 14))
    newest = max(bodies, key=lambda b: b["version"])
    assert newest["labels"] == sorted(["a", *names])
    for body in bodies:  # each answer is the set as of its own version
        assert len(body["labels"]) == body["version"]
    listed = (await agent.get(f"/conversations/{conv}/labels")).json()
    assert listed == {"labels": sorted(["a", *names]), "version": 13}
    detail = (await agent.get(f"/conversations/{conv}")).json()
    assert detail["labels_version"] == 13
    mine = (await agent.get("/conversations", status="queued", limit="100")).json()
    row = next((r for r in mine["conversations"] if r["id"] == conv), None)
    assert row is not None and row["labels_version"] == 13, mine


def labels_event(conv: str) -> Callable[[Frame], bool]:
    return lambda f: f["type"] == "event" and f["name"] == "conv.labels" and f["conv"] == conv


async def test_every_agent_of_the_tenant_sees_label_changes_live(
    server: ServerProcess, clients: Clients, demo: DemoTenant, other_tenant: DemoTenant,
    agent: Rest, agent2: Rest,
) -> None:
    visitor = await clients.visitor(server)
    conv = str((await visitor.send_and_ack("hello there"))["conv"])
    colleague = await clients.agent(server, demo.agents[1], demo=demo)
    stranger = await clients.agent(server, other_tenant.agents[0], demo=other_tenant)
    admin_token = str((await cached_login(server, demo.admin, demo=demo))["token"])
    bridge = await connect_bridge(clients, server, await new_bridge(server, admin_token))
    me = (await cached_login(server, demo.agents[0], demo=demo))["agent"]
    tag = f"refund-{uuid.uuid4().hex[:6]}"

    assert (await agent.post(f"/conversations/{conv}/labels", {"label": tag})).status_code == 200
    added = await colleague.recv_until(labels_event(conv), what="conv.labels")
    assert added["data"] == {
        "labels": [tag], "by": {"type": "agent", "id": me["id"], "name": me["name"]},
        "version": 1,
    }
    # No change, no event: the label again, and one the conversation lacks removed.
    assert (await agent2.post(f"/conversations/{conv}/labels", {"label": tag})).status_code == 200
    assert (await agent2.delete(f"/conversations/{conv}/labels/absent")).status_code == 200
    await agent2.post(f"/conversations/{conv}/labels", {"label": "VIP"})
    both = await colleague.recv_until(labels_event(conv), what="the second conv.labels")
    assert both["data"]["labels"] == sorted([tag, "vip"]) and both["data"]["version"] == 2
    await agent.delete(f"/conversations/{conv}/labels/{tag}")
    left = await colleague.recv_until(labels_event(conv), what="the third conv.labels")
    assert left["data"]["labels"] == ["vip"] and left["data"]["version"] == 3
    assert len([f for f in colleague.log if labels_event(conv)(f)]) == 3
    # A bridge of the tenant is told too (BRIDGES.md: the conv.* events an admin gets).
    told = await bridge.recv_until(labels_event(conv), what="the bridge's conv.labels")
    assert told["data"]["labels"] == [tag]
    # Not the visitor, not another tenant.
    for ws in (visitor, stranger):
        await ws.expect_no_frame(labels_event(conv))


async def test_labelling_a_closed_chat_tells_a_bridge_without_replaying_it(
    server: ServerProcess, clients: Clients, demo: DemoTenant, agent: Rest,
) -> None:
    visitor = await clients.visitor(server)
    conv = str((await visitor.send_and_ack("an old question"))["conv"])
    staff = await clients.agent(server, demo.agents[0], demo=demo)
    await staff.send_json({"type": "accept", "conv": conv})
    await visitor.recv_until(lambda f: f.get("name") == "conv.assigned", what="assigned")
    await staff.send_json({"type": "close", "conv": conv})
    await visitor.recv_until(lambda f: f.get("name") == "conv.closed", what="closed")
    admin_token = str((await cached_login(server, demo.admin, demo=demo))["token"])
    bridge = await connect_bridge(clients, server, await new_bridge(server, admin_token))
    await bridge.ping_pong()  # its welcome's replays are planned: a closed chat is not one
    assert (await agent.post(f"/conversations/{conv}/labels", {"label": "late"})).status_code == 200
    await bridge.recv_until(labels_event(conv), what="the bridge's conv.labels")
    await bridge.expect_no_frame(lambda f: f["type"] == "message" and f.get("conv") == conv)


async def test_the_label_limit_holds_under_concurrent_adds(
    server: ServerProcess, clients: Clients, agent: Rest
) -> None:
    # Each add counts, then inserts: without a lock, adds racing past the count at once
    # would all insert, and a conversation would carry more labels than its limit.
    conv, _ = await new_conv(server, clients)
    for i in range(18):
        assert (await agent.post(f"/conversations/{conv}/labels",
                                 {"label": f"pre-{i}"})).status_code == 200
    responses = await asyncio.gather(*(
        agent.post(f"/conversations/{conv}/labels", {"label": f"race-{i}"}) for i in range(12)))
    assert sorted(r.status_code for r in responses) == [200, 200] + [400] * 10, \
        [r.text for r in responses]
    labels = (await agent.get(f"/conversations/{conv}/labels")).json()["labels"]
    assert len(labels) == 20


async def test_bad_labels_are_refused(server: ServerProcess, clients: Clients,
                                      agent: Rest) -> None:
    conv, _ = await new_conv(server, clients)
    for bad in ("", "   ", "x" * 51, 5, None, "tab\there\x01", "a/b"):
        assert_error_response(await agent.post(f"/conversations/{conv}/labels", {"label": bad}),
                              400, "bad_request")


async def test_conversation_detail_carries_the_visitor_context(
    server: ServerProcess, clients: Clients, agent: Rest,
) -> None:
    conv, visitor_id = await new_conv(server, clients, name="Grace",
                                      page_url="https://shop.example/start")
    detail = (await agent.get(f"/conversations/{conv}")).json()
    assert detail["id"] == conv and detail["status"] == "queued"
    assert detail["labels"] == []
    assert detail["visitor"]["id"] == visitor_id
    assert detail["visitor"]["name"] == "Grace"
    assert detail["visitor"]["page_url"] == "https://shop.example/start"
    for key in ("browser", "os", "device", "ip", "visit_count", "pages",
                "previous_conversations", "referrer", "language"):
        assert key in detail["visitor"]
    context = (await agent.get(f"/visitors/{visitor_id}")).json()
    assert [c["id"] for c in context["previous_conversations"]] == [conv]


async def test_another_tenant_gets_404_everywhere(
    server: ServerProcess, clients: Clients, agent: Rest, foreign_admin: Rest,
) -> None:
    conv, visitor_id = await new_conv(server, clients)
    await agent.post(f"/conversations/{conv}/labels", {"label": "ours-only"})
    for resp in (
        await foreign_admin.get(f"/visitors/{visitor_id}"),
        await foreign_admin.get(f"/conversations/{conv}"),
        await foreign_admin.get(f"/conversations/{conv}/labels"),
        await foreign_admin.post(f"/conversations/{conv}/labels", {"label": "theirs"}),
        await foreign_admin.delete(f"/conversations/{conv}/labels/ours-only"),
    ):
        assert_error_response(resp, 404, "not_found")
    unknown = [await agent.get("/visitors/01nonexistent"), await agent.get("/conversations/zz")]
    for resp in unknown:
        assert_error_response(resp, 404, "not_found")
    labels = {row["label"] for row in (await foreign_admin.get("/labels")).json()["labels"]}
    assert "ours-only" not in labels
    assert (await agent.get(f"/conversations/{conv}/labels")).json()["labels"] == ["ours-only"]


async def test_visitors_cannot_read_any_context(server: ServerProcess, clients: Clients) -> None:
    conv, visitor_id = await new_conv(server, clients)
    visitor = await clients.visitor(server)
    as_visitor = Rest(server, visitor.session["token"])
    own = Rest(server, None)
    for rest, status in ((as_visitor, 403), (own, 401)):
        for path in (f"/visitors/{visitor_id}", f"/visitors/{visitor.session['visitor_id']}",
                     f"/conversations/{conv}", f"/conversations/{conv}/labels", "/labels",
                     "/search?q=hello"):
            assert_error_response(await rest.get(path), status)
        assert_error_response(
            await rest.post(f"/conversations/{conv}/labels", {"label": "x"}), status)
