"""``GET /api/v1/conversations``: the total that match, and paging by cursor (issue #22).

A console must show how many are waiting, not the size of the first page, and load the
rest as the agent scrolls. Old callers (no ``order``, no ``cursor``) get the same cards.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clients import WsClient, get, login, new_visitor
from tests.support.server import ServerProcess

WAITING = 7


async def _open_conversations(server: ServerProcess, count: int) -> list[str]:
    convs = []
    for index in range(count):
        visitor = await new_visitor(server, name=f"Pager {index}")
        ws = await WsClient.connect(server.ws_url + "/ws/visitor", label=f"pager{index}")
        try:
            await ws.hello(visitor["token"])
            convs.append(str((await ws.send_and_ack(f"waiting {index}"))["conv"]))
        finally:
            await ws.close()
    return convs


async def _pages(server: ServerProcess, headers: dict[str, str], query: str) -> list[dict]:
    pages: list[dict[str, Any]] = []
    cursor = ""
    while True:
        resp = await get(server, f"/api/v1/conversations?{query}{cursor}", headers)
        assert resp.status_code == 200, resp.text
        pages.append(resp.json())
        if pages[-1]["next_cursor"] is None:
            return pages
        cursor = f"&cursor={pages[-1]['next_cursor']}"
        assert len(pages) < 20, "paging does not end"


async def test_total_and_cursor_pages_cover_the_queue_once_in_order(server: ServerProcess) -> None:
    assert server.demo is not None
    agent = await login(server, server.demo.agents[0])
    bearer = {"authorization": f"Bearer {agent['token']}"}
    before = (await get(server, "/api/v1/conversations?status=queued&limit=1", bearer)).json()
    convs = await _open_conversations(server, WAITING)
    waiting = before["total"] + WAITING

    oldest = await _pages(server, bearer, "status=queued&order=oldest&limit=3")
    assert {page["total"] for page in oldest} == {waiting}
    assert [len(page["conversations"]) for page in oldest][:-1] == [3] * (len(oldest) - 1)
    ids = [card["id"] for page in oldest for card in page["conversations"]]
    assert len(ids) == len(set(ids)) == waiting
    assert ids[-WAITING:] == convs  # oldest first: ours were made last, in this order
    created = [card["created_at"] for page in oldest for card in page["conversations"]]
    assert created == sorted(created)

    newest = await _pages(server, bearer, "status=queued&limit=2")
    assert [card["id"] for page in newest for card in page["conversations"]] == ids[::-1]

    first = await get(server, "/api/v1/conversations?status=queued", bearer)
    body = first.json()
    assert body["total"] == waiting and body["next_cursor"] is None  # fits in one page
    assert [card["id"] for card in body["conversations"]] == ids[::-1]  # as before: newest


async def test_another_tenant_neither_counts_nor_pages_into_ours(server: ServerProcess) -> None:
    assert server.demo is not None
    agent = await login(server, server.demo.agents[0])
    ours = {"authorization": f"Bearer {agent['token']}"}
    await _open_conversations(server, 2)
    page = (await get(server, "/api/v1/conversations?status=open&limit=1", ours)).json()
    assert page["total"] >= 2 and page["next_cursor"]

    other = server.run_demo(tenant="pager-other")
    stranger = await login(server, other.agents[0], demo=other)
    theirs = {"authorization": f"Bearer {stranger['token']}"}
    mine = [card["id"] for card in page["conversations"]]
    foreign = await get(
        server, f"/api/v1/conversations?status=open&cursor={page['next_cursor']}", theirs
    )
    assert foreign.status_code == 200
    assert foreign.json()["total"] == 0 and foreign.json()["conversations"] == []
    assert not set(mine) & {c["id"] for c in foreign.json()["conversations"]}


@pytest.mark.parametrize(
    "query", ["?order=sideways", "?cursor=not-a-cursor", "?cursor=%25%25", "?cursor=fHg"]
)
async def test_bad_order_or_cursor_is_400(server: ServerProcess, query: str) -> None:
    assert server.demo is not None
    agent = await login(server, server.demo.agents[0])
    response = await get(
        server, "/api/v1/conversations" + query, {"authorization": f"Bearer {agent['token']}"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"
