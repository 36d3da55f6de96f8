"""PROTOCOL §2 delivery guarantees, under concurrency, dropped connections and kill -9.

The invariant checked everywhere: every acked message is stored exactly once with the
acked id and seq; a conversation's seqs are 1..N with no gap; every connection sees a
conversation's messages in increasing seq, each once; a client that resumes from its
last seq gets exactly what it missed, then live traffic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.checker import Ack, SenderKey, Sent, check_history, stream_problems
from tests.support.clients import (
    Clients,
    Frame,
    WsClient,
    WsClosed,
    identity,
    new_cid,
    open_conversation,
    send_pipelined,
)
from tests.support.server import DemoTenant, ServerFactory, ServerProcess


def acks_of(client: WsClient, frames: list[Frame]) -> list[Ack]:
    return [Ack.from_frame(f, identity(client)) for f in frames]


async def seen_through(client: WsClient, conv: str, last: int, within: float = 30.0) -> None:
    """Wait until the connection has received message ``last`` of ``conv``."""
    await client.wait_state(lambda: last in client.message_seqs(conv), within,
                            f"message seq {last} of {conv}")


# ------------------------------------------------------------------------ concurrency


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_400_concurrent_messages_arrive_once_in_the_same_order_on_both_sides(
    server: ServerProcess, demo: DemoTenant, clients: Clients,
) -> None:
    visitor = await clients.visitor(server, label="visitor")
    agent = await clients.agent(server, demo.agents[0], label="agent")
    conv = await open_conversation(visitor, agent)
    base = len(await agent.history(conv))

    v_acks, a_acks = await asyncio.gather(
        send_pipelined(visitor, conv, 200, window=20, body=lambda i: f"visitor {i}"),
        send_pipelined(agent, conv, 200, window=20, body=lambda i: f"agent {i}"),
    )
    expected = list(range(base + 1, base + 401))
    assert sorted(a["seq"] for a in v_acks + a_acks) == expected, "acks: seqs not 1..400"

    for client in (visitor, agent):
        await seen_through(client, conv, base + 400)
    views = {}
    for client in (visitor, agent):
        got = [m for m in client.messages(conv) if m["seq"] > base]
        problems = stream_problems([m["seq"] for m in got], expected)
        assert not problems, f"{client.label}: {problems}"
        views[client.label] = [(m["seq"], m["id"], m["cid"]) for m in got]
    assert views["visitor"] == views["agent"], "the two sides saw different streams"

    by_cid = {cid: (seq, mid) for seq, mid, cid in views["agent"]}
    for ack in v_acks + a_acks:
        assert by_cid.get(ack["cid"]) == (ack["seq"], ack["id"]), f"ack disagrees: {ack}"
    history = await agent.history(conv)
    result = check_history({conv: history}, acks_of(visitor, v_acks) + acks_of(agent, a_acks))
    assert result.ok, str(result)


# ------------------------------------------------------------------------ dropped connections


@pytest.mark.parametrize("dropped", ["visitor", "agent"])
async def test_abruptly_dropped_client_resumes_exactly_the_missed_messages_then_live(
    server: ServerProcess, demo: DemoTenant, clients: Clients, dropped: str,
) -> None:
    visitor = await clients.visitor(server, label="visitor")
    agent = await clients.agent(server, demo.agents[0], label="agent")
    conv = await open_conversation(visitor, agent)
    victim, talker = (visitor, agent) if dropped == "visitor" else (agent, visitor)
    for i in range(3):
        ack = await talker.send_and_ack(f"before {i}", conv)
        await victim.recv_type("message", cid=ack["cid"])
    last = victim.message_seqs(conv)[-1]

    victim.abort()  # TCP gone, no close frame
    await victim.wait_closed()
    missed = [await talker.send_and_ack(f"missed {i}", conv) for i in range(10)]

    live: list[Frame] = []

    async def keep_talking() -> None:
        for i in range(10):
            live.append(await talker.send_and_ack(f"live {i}", conv))
            await asyncio.sleep(0.02)

    talking = asyncio.create_task(keep_talking())
    if dropped == "visitor":
        back = await clients.visitor(server, session=visitor.session, resume={conv: last},
                                     label="visitor-again")
    else:
        back = await clients.agent(server, login_data=agent.login, resume={conv: last},
                                   label="agent-again")
    await asyncio.wait_for(talking, 30)
    final = live[-1]["seq"]
    await seen_through(back, conv, final)
    await back.ping_pong()

    seqs = back.message_seqs(conv)
    assert seqs == list(range(last + 1, final + 1)), stream_problems(
        seqs, range(last + 1, final + 1))
    assert seqs[:len(missed)] == [a["seq"] for a in missed], "the missed messages came first"
    got = {m["cid"]: (m["seq"], m["id"]) for m in back.messages(conv)}
    for ack in missed + live:
        assert got[ack["cid"]] == (ack["seq"], ack["id"])


async def test_resume_from_the_latest_seq_replays_nothing_and_from_zero_replays_all(
    server: ServerProcess, demo: DemoTenant, clients: Clients,
) -> None:
    visitor = await clients.visitor(server, label="visitor")
    agent = await clients.agent(server, demo.agents[0], label="agent")
    conv = await open_conversation(visitor, agent)
    await send_pipelined(agent, conv, 5)
    history = await visitor.history(conv)
    last = history[-1]["seq"]

    current = await clients.visitor(server, session=visitor.session, resume={conv: last})
    await current.ping_pong()
    assert current.message_seqs(conv) == []

    fresh = await clients.visitor(server, session=visitor.session, resume={conv: 0})
    await seen_through(fresh, conv, last)
    assert fresh.message_seqs(conv) == [m["seq"] for m in history]


async def test_resent_cid_after_a_lost_ack_returns_the_original_ack(
    server: ServerProcess, demo: DemoTenant, clients: Clients,
) -> None:
    visitor = await clients.visitor(server, label="visitor")
    agent = await clients.agent(server, demo.agents[0], label="agent")
    conv = await open_conversation(visitor, agent)
    cid = await visitor.send_message("did this get through?", conv)
    original = await agent.recv_type("message", cid=cid)  # committed and delivered...
    visitor.abort()  # ...but the visitor drops before it reads the ack
    back = await clients.visitor(server, session=visitor.session,
                                 resume={conv: original["seq"] - 1}, label="visitor-again")
    ack = await back.send_and_ack("did this get through?", conv, cid=cid)
    assert (ack["id"], ack["seq"]) == (original["id"], original["seq"])
    await agent.expect_no_frame(lambda f: f["type"] == "message" and f.get("cid") == cid
                                and f is not original, within=0.5)
    stored = [m for m in await agent.history(conv) if m["cid"] == cid]
    assert len(stored) == 1


async def test_resend_after_dropping_right_after_send_stores_each_message_once(
    server: ServerProcess, demo: DemoTenant, clients: Clients,
) -> None:
    visitor = await clients.visitor(server, label="visitor")
    agent = await clients.agent(server, demo.agents[0], label="agent")
    conv = await open_conversation(visitor, agent)
    cids = []
    for i in range(5):
        tab = await clients.visitor(server, session=visitor.session, label=f"tab{i}")
        cids.append(await tab.send_message(f"sent then dropped {i}", conv))
        tab.abort()
    back = await clients.visitor(server, session=visitor.session, label="visitor-again")
    acks = [await back.send_and_ack(f"sent then dropped {i}", conv, cid=cid)
            for i, cid in enumerate(cids)]
    for ack in acks:
        await agent.recv_type("message", cid=ack["cid"])
    await agent.ping_pong()
    received = [m["cid"] for m in agent.messages(conv)]
    assert all(received.count(cid) == 1 for cid in cids), received
    stored = [m["cid"] for m in await agent.history(conv)]
    assert all(stored.count(cid) == 1 for cid in cids), stored
    result = check_history({conv: await agent.history(conv)}, acks_of(back, acks))
    assert result.ok, str(result)


# ------------------------------------------------------------------------ kill -9


@dataclass
class Writer:
    """One side of a conversation sending continuously, recording what happened."""

    label: str
    conv: str
    client: WsClient
    sender: SenderKey
    reconnect: Callable[[dict[str, int]], Awaitable[WsClient]]
    sent: list[str] = field(default_factory=list)
    bodies: dict[str, str] = field(default_factory=dict)
    acks: list[Ack] = field(default_factory=list)
    acked: set[str] = field(default_factory=set)
    seen: set[int] = field(default_factory=set)
    old_clients: list[WsClient] = field(default_factory=list)

    def record(self, frame: Frame) -> None:
        if frame["type"] == "ack":
            self.acks.append(Ack.from_frame(frame, self.sender))
            self.acked.add(str(frame["cid"]))

    async def run(self, stop: asyncio.Event, window: int = 5) -> None:
        """Send until ``stop`` or until the connection dies; at most ``window`` un-acked."""
        slots = asyncio.Semaphore(window)
        waiting: set[asyncio.Task[None]] = set()

        async def await_ack(cid: str) -> None:
            try:
                self.record(await self.client.wait_ack(cid, timeout=15))
            except (WsClosed, AssertionError):
                pass  # no ack: resent after the restart
            finally:
                slots.release()

        n = 0
        while not stop.is_set() and not self.client.closed.is_set() and n < 5000:
            await slots.acquire()
            cid, n = new_cid(), n + 1
            self.sent.append(cid)
            self.bodies[cid] = f"{self.label} message {n}"
            try:
                await self.client.send_message(self.bodies[cid], self.conv, cid)
            except ConnectionClosed:
                slots.release()
                break
            task = asyncio.create_task(await_ack(cid))
            waiting.add(task)
            task.add_done_callback(waiting.discard)
        if waiting:
            await asyncio.wait(waiting, timeout=20)

    def has_acks(self, n: int) -> bool:
        return len(self.acked) >= n

    def seen_now(self) -> set[int]:
        return self.seen | set(self.client.message_seqs(self.conv))


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_kill_9_loses_no_acked_message_and_resent_cids_are_stored_once(
    server_factory: ServerFactory, clients: Clients,
) -> None:
    srv = server_factory()
    assert srv.demo is not None
    writers: list[Writer] = []
    for i, account in enumerate((*srv.demo.agents[:2], srv.demo.admin)):
        visitor = await clients.visitor(srv, label=f"visitor{i}")
        agent = await clients.agent(srv, account, label=f"agent{i}")
        conv = await open_conversation(visitor, agent)

        def again_visitor(resume: dict[str, int], v: WsClient = visitor,
                          i: int = i) -> Awaitable[WsClient]:
            return clients.visitor(srv, session=v.session, resume=resume,
                                   label=f"visitor{i}-again")

        def again_agent(resume: dict[str, int], a: WsClient = agent,
                        i: int = i) -> Awaitable[WsClient]:
            return clients.agent(srv, login_data=a.login, resume=resume,
                                 label=f"agent{i}-again")

        for client, again in ((visitor, again_visitor), (agent, again_agent)):
            baseline = {m["seq"] for m in await client.history(conv)}
            writers.append(Writer(client.label, conv, client, identity(client), again,
                                  seen=baseline))

    # Everybody sends; once each has a few acks, the node dies mid-burst.
    stop = asyncio.Event()
    running = [asyncio.create_task(w.run(stop)) for w in writers]
    for w in writers:
        await w.client.wait_state(partial(w.has_acks, 10), 20, "10 acks")
    await asyncio.sleep(0.3)
    await srv.akill9()
    for w in writers:
        await w.client.wait_closed(timeout=10)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*running), 30)
    for w in writers:
        w.seen = w.seen_now()
        w.old_clients.append(w.client)
    in_flight = sum(len(w.sent) - len(w.acked) for w in writers)
    assert in_flight > 0, "the kill found no send in flight: nothing was tested"
    print(f"killed with {sum(len(w.acked) for w in writers)} acked, {in_flight} in flight")

    await srv.arestart()

    # Each client comes back, resumes from its last seq, and resends what has no ack,
    # plus a few acked cids (they must get the very same ack again), then sends more.
    async def come_back(w: Writer) -> None:
        w.client = await w.reconnect({w.conv: max(w.seen)})
        unacked = [cid for cid in w.sent if cid not in w.acked]
        again = unacked + [a.cid for a in w.acks[-3:]]
        for cid in again:
            frame = await w.client.send_and_ack(w.bodies[cid], w.conv, cid=cid, timeout=15)
            w.record(frame)
        for n in range(5):
            cid = new_cid()
            w.sent.append(cid)
            w.bodies[cid] = f"{w.label} after restart {n}"
            w.record(await w.client.send_and_ack(w.bodies[cid], w.conv, cid=cid))

    await asyncio.wait_for(asyncio.gather(*(come_back(w) for w in writers)), 60)

    convs = sorted({w.conv for w in writers})
    history: dict[str, list[Frame]] = {}
    for conv in convs:
        reader = next(w for w in writers if w.conv == conv and w.sender[0] == "agent")
        history[conv] = await reader.client.history(conv, timeout=15)
    result = check_history(
        history,
        [a for w in writers for a in w.acks],
        [Sent(w.conv, w.sender, cid) for w in writers for cid in w.sent],
    )
    assert result.ok, str(result)

    # And every client, across its two connections, saw its whole conversation once.
    for w in writers:
        final = history[w.conv][-1]["seq"]
        await seen_through(w.client, w.conv, final)
        after_resume = w.client.message_seqs(w.conv)
        problems = stream_problems(after_resume, range(max(w.seen) + 1, final + 1))
        assert not problems, f"{w.label} after resume: {problems}"
        w.seen |= set(after_resume)
        assert w.seen == set(range(1, final + 1)), (
            f"{w.label} never saw seqs {sorted(set(range(1, final + 1)) - w.seen)[:20]}")
