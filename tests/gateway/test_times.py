"""One time resolution in the API (issue #21, item 2): every time it shows is UTC with
milliseconds (``YYYY-MM-DDTHH:MM:SS.mmmZ``), as a message's ``ts`` is, so a conversation's
``created_at`` sorts against its messages, as strings and as times, on both backends."""

from __future__ import annotations

import datetime as dt
import re

from tests.support.clients import Clients, cached_login, get
from tests.support.server import ServerProcess

ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _in_order(*times: str) -> bool:
    return list(times) == sorted(times) and [_time(t) for t in times] == sorted(map(_time, times))


async def test_created_at_has_milliseconds_and_sorts_with_message_ts(
    server: ServerProcess, clients: Clients
) -> None:
    assert server.demo is not None
    agent = await clients.agent(server, label="agent")
    early = await clients.visitor(server, label="early")
    first = await early.send_and_ack("the first conversation")
    late = await clients.visitor(server, label="late")
    second = await late.send_and_ack("the second conversation")
    assert ISO_MS.fullmatch(first["ts"]) and ISO_MS.fullmatch(second["ts"])

    queued = {}
    for ack in (first, second):
        event = await agent.recv_event("conv.queued", ack["conv"], 10)
        queued[ack["conv"]] = event["data"]["created_at"]
        assert event["data"]["messages"][0]["ts"] == ack["ts"]

    token = (await cached_login(server, server.demo.agents[0]))["token"]
    resp = await get(
        server, "/api/v1/conversations?status=queued&order=oldest&limit=200",
        {"authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    cards = {card["id"]: card for card in resp.json()["conversations"]}
    created = {conv: cards[conv]["created_at"] for conv in queued}
    assert created == queued  # the card and the event say the same
    for value in created.values():
        assert ISO_MS.fullmatch(value), value
    # Opened, first message, the next one opened, its first message: in this order.
    assert _in_order(created[first["conv"]], first["ts"], created[second["conv"]], second["ts"])

    detail = await get(
        server, f"/api/v1/conversations/{first['conv']}", {"authorization": f"Bearer {token}"}
    )
    assert detail.status_code == 200, detail.text  # the agent tools' detail: the same time
    assert detail.json()["created_at"] == created[first["conv"]]


async def test_times_elsewhere_in_the_api_have_milliseconds(server: ServerProcess) -> None:
    assert server.demo is not None
    admin = (await cached_login(server, server.demo.admin))["token"]
    bearer = {"authorization": f"Bearer {admin}"}
    checked = 0
    login = await cached_login(server, server.demo.agents[0])
    assert ISO_MS.fullmatch(login["expires_at"]), login["expires_at"]
    for path, key in (("/api/v1/sites", "sites"), ("/api/v1/departments", "departments"),
                      ("/api/v1/audit", "entries"), ("/api/v1/login-log", "entries")):
        resp = await get(server, path, bearer)
        assert resp.status_code == 200, (path, resp.text)
        for row in resp.json()[key]:
            assert ISO_MS.fullmatch(row["created_at"]), (path, row["created_at"])
            checked += 1
    assert checked >= 2  # the demo site and the admin's own login at least
