"""Gray rollout on a real host: nginx splits visitors by a stable hash and honours pins,
and a chat running through ``deploy --gray``, ``promote`` and ``rollback`` loses and
doubles nothing (the drains close with 1012; clients resume on the other group)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.ops.conftest import Installed, ops_suite
from tests.ops.support import PREVIOUS_RELEASE, Front, Lab, assert_ok
from tests.support.checker import Ack, SenderKey, Sent, check_history
from tests.support.clients import WsClient, WsClosed, identity, new_cid, open_conversation
from tests.support.testhost import TestHost

pytestmark = [ops_suite, pytest.mark.slow, pytest.mark.timeout(1500)]

VISITORS = 1000
GRAY_PERCENT = 30
TOLERANCE = 5  # percentage points


def _visitor_ids(count: int) -> list[str]:
    """Ids shaped like the server's (ULIDs in lower-case Crockford base32), the same every
    run: the share is then a property of nginx's hash, not of one draw of random ids
    (uuid4 draws of 1,000 spread with a standard deviation of 1.4 points around 30)."""
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    draw = random.Random(16)
    return ["01m9" + "".join(draw.choice(alphabet) for _ in range(22)) for _ in range(count)]


async def _group(front: Front, params: dict[str, str]) -> str:
    async with front.http() as client:
        resp = await client.get("/api/healthz", params=params)
    assert resp.status_code == 200, resp.text
    return resp.headers["x-steadydesk-group"]


async def test_gray_30_splits_visitors_by_a_stable_hash_and_honours_pins(
    lab: Lab, installed: Installed, installed_host: TestHost
) -> None:
    host, creds = installed_host, installed.credentials
    # The "new" release is another commit (the previous release): a real build, and two
    # versions of the code serving side by side on one schema.
    deployed = assert_ok(lab.fab(host, "deploy", "--ref", PREVIOUS_RELEASE, "--gray",
                                 str(GRAY_PERCENT), "--pin-new", creds.tenant))  # fmt: skip
    assert f"({PREVIOUS_RELEASE[:8]}) for the green group" in deployed
    front = Front(host)

    ids = _visitor_ids(VISITORS)
    async with front.http() as client:
        rounds = []
        for _ in range(2):
            seen = {}
            for visitor in ids:
                resp = await client.get("/api/healthz", params={"visitor": visitor})
                assert resp.status_code == 200, resp.text
                seen[visitor] = resp.headers["x-steadydesk-group"]
            rounds.append(seen)
    assert rounds[0] == rounds[1], "a visitor moved between groups"
    shares = Counter(rounds[0].values())
    assert set(shares) == {"blue", "green"}, shares
    percent = 100 * shares["green"] / VISITORS
    assert abs(percent - GRAY_PERCENT) <= TOLERANCE, f"{percent:.1f}% on the new group"

    # Real visitors land on nodes of the group nginx chose for their id.
    for _ in range(6):
        session = await front.visitor_session(creds.site_key)
        expected = await _group(front, {"visitor": session["visitor_id"]})
        ws = await front.websocket(f"/ws/visitor?visitor={session['visitor_id']}", "visitor")
        try:
            welcome = await ws.hello(session["token"])
        finally:
            await ws.close()
        assert f"-{expected}-" in welcome["node"], (expected, welcome["node"])

    # The pinned tenant: its site's visitors and its agents all on the new group; nobody
    # else's agents follow.
    assert {await _group(front, {"site": creds.site_key, "visitor": v}) for v in ids[:50]} == {
        "green"
    }
    assert await _group(front, {"tenant": creds.tenant}) == "green"
    assert await _group(front, {"tenant": "someone-else"}) == "blue"
    assert await _group(front, {}) == "blue"
    status = assert_ok(lab.fab(host, "status"))
    assert (
        f"{GRAY_PERCENT}% of visitors on green" in status
        and f"pinned to green: {creds.tenant}" in status
    )


@dataclass
class Side:
    """One side of a conversation that keeps sending through drains: when its connection
    closes it reconnects through nginx, resumes from its last seq and resends its un-acked
    message under the same cid (the protocol's at-least-once send, made exactly-once)."""

    label: str
    conv: str
    client: WsClient
    sender: SenderKey
    reconnect: Callable[[dict[str, int]], Awaitable[WsClient]]
    interval: float  # under the node's send rate limit (visitors 20, agents 100 per 10 s)
    sent: list[str] = field(default_factory=list)
    bodies: dict[str, str] = field(default_factory=dict)
    acks: list[Ack] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    closes: list[int | None] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    old_clients: list[WsClient] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            cid = new_cid()
            self.sent.append(cid)
            self.bodies[cid] = f"{self.label} message {n}"
            await self._deliver(cid)
            await asyncio.sleep(self.interval)

    async def _deliver(self, cid: str) -> None:
        for _ in range(100):
            if self.client.closed.is_set():
                await self._come_back()
            try:
                await self.client.send_message(self.bodies[cid], self.conv, cid)
                frame = await self.client.wait_ack(cid, timeout=15)
            except (WsClosed, ConnectionClosed):
                continue
            if frame.get("code") == "rate_limited":
                await asyncio.sleep(1.0)  # as a client should: later, under the same cid
                continue
            assert frame["type"] == "ack", f"{self.label}: {frame}"
            self.acks.append(Ack.from_frame(frame, self.sender))
            return
        raise AssertionError(f"{self.label}: {cid} was never acked")

    async def _come_back(self) -> None:
        self.closes.append(self.client.close_code)
        self.seen |= set(self.client.message_seqs(self.conv))
        self.old_clients.append(self.client)
        for attempt in range(80):  # nginx may still be switching; the group is starting
            try:
                self.client = await self.reconnect({self.conv: max(self.seen, default=0)})
                assert self.client.welcome is not None
                self.nodes.append(str(self.client.welcome["node"]))
                return
            except (OSError, AssertionError, ConnectionClosed):
                if attempt == 79:
                    raise
                await asyncio.sleep(0.25)


async def _pairs(front: Front, installed: Installed, count: int) -> list[Side]:
    creds = installed.credentials
    login = await front.login(creds.tenant, creds.admin_email, creds.admin_password)
    agent_path = f"/ws/agent?tenant={creds.tenant}"
    sides: list[Side] = []
    for i in range(count):
        session = await front.visitor_session(creds.site_key)
        visitor_path = f"/ws/visitor?site={creds.site_key}&visitor={session['visitor_id']}"

        async def visitor_again(resume: dict[str, int], i: int = i, s: Any = session,
                                path: str = visitor_path) -> WsClient:  # fmt: skip
            client = await front.websocket(path, f"visitor{i}+")
            await client.hello(s["token"], resume=resume)
            return client

        async def agent_again(resume: dict[str, int], i: int = i) -> WsClient:
            client = await front.websocket(agent_path, f"agent{i}+")
            await client.hello(login["token"], resume=resume)
            return client

        visitor = await visitor_again({})
        agent = await agent_again({})
        conv = await open_conversation(visitor, agent, f"pair {i} starts", timeout=15)
        for client, again, label, interval in (
            (visitor, visitor_again, f"visitor{i}", 0.6),
            (agent, agent_again, f"agent{i}", 0.15),
        ):
            baseline = {m["seq"] for m in await client.history(conv)}
            sides.append(
                Side(label, conv, client, identity(client), again, interval, seen=baseline)
            )
    return sides


async def _check(sides: list[Side]) -> None:
    history = {}
    for conv in sorted({s.conv for s in sides}):
        reader = next(s for s in sides if s.conv == conv)
        history[conv] = await reader.client.history(conv, timeout=15)
    result = check_history(
        history,
        [a for s in sides for a in s.acks],
        [Sent(s.conv, s.sender, cid) for s in sides for cid in s.sent],
    )
    assert result.ok, str(result)
    for side in sides:
        for client in [*side.old_clients, side.client]:
            assert not client.stream_violations, client.stream_violations


async def test_a_chat_through_gray_promote_and_rollback_loses_and_doubles_nothing(
    lab: Lab, installed: Installed, installed_host: TestHost
) -> None:
    host = installed_host
    front = Front(host)
    sides = await _pairs(front, installed, 2)
    stop = asyncio.Event()
    running = [asyncio.create_task(s.run(stop)) for s in sides]

    async def fab(*args: str) -> None:
        assert_ok(await asyncio.to_thread(lab.fab, host, *args))
        await asyncio.sleep(1.0)  # some traffic after each step
        for task in running:
            if task.done():
                task.result()  # a side that gave up fails the test here, with its reason

    try:
        await asyncio.sleep(1.0)
        await fab("deploy", "--ref", "HEAD", "--gray", "50")
        await fab("promote")
        on_green = [s.nodes[-1] if s.nodes else "" for s in sides]
        await fab("rollback")
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*running), 120)
    try:
        await _check(sides)
        assert sum(len(s.acks) for s in sides) > 40, "too little traffic"
        for side, node in zip(sides, on_green, strict=True):
            # Drained twice (promote, rollback), each time with 1012, resumed elsewhere.
            assert side.closes.count(1012) >= 2, f"{side.label}: closes {side.closes}"
            assert "-green-" in node, f"{side.label} was on {node} after promote"
            assert "-blue-" in side.nodes[-1], f"{side.label} is on {side.nodes[-1]} after rollback"
    finally:
        for side in sides:
            await side.client.close()
    again = await asyncio.to_thread(lab.fab, host, "rollback")
    assert again.returncode == 1 and "already rolled back to" in again.stderr, again.stderr
