"""Pairs, their setup, and one measured phase of bench/chat_pairs.py (protocol only)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from _client import (
    Conn,
    Demo,
    Frame,
    ProtocolError,
    dumps,
    new_cid,
    visitor_session,
)
from _report import CpuSample, cpu_figures, percentiles, rate
from _server import CpuMeter

SETUP_CONCURRENCY = 8
perf = time.perf_counter


# --------------------------------------------------------------------------- setup


@dataclass
class Ctx:
    http: httpx.AsyncClient
    ws_url: str
    demo: Demo
    agent_tokens: list[str]
    body: str
    deflate: bool


@dataclass(eq=False)
class Pair:
    idx: int
    visitor: Conn
    agent: Conn
    agent_token: str
    conv: str
    agent_seq: int  # the last seq the agent connection has seen in `conv`
    send_prefix: str  # a `send` frame up to the cid's opening quote

    async def close(self) -> None:
        await asyncio.gather(self.visitor.close(), self.agent.close(), return_exceptions=True)


def _is(kind: str, **fields: Any) -> Callable[[Frame], bool]:
    return lambda f: f.get("type") == kind and all(f.get(k) == v for k, v in fields.items())


def _answers(**fields: Any) -> Callable[[Frame], bool]:
    return lambda f: all(f.get(k) == v for k, v in fields.items())


async def open_agent(ctx: Ctx, token: str, name: str) -> Conn:
    agent = await Conn.connect(ctx.ws_url + "/ws/agent", name, ctx.deflate)
    await agent.hello(token)
    return agent


async def setup_pair(ctx: Ctx, idx: int) -> Pair:
    """Visitor session + hello, first send opens the conversation, the agent accepts it,
    and one warm-up message goes the whole live path (not counted)."""
    token = await visitor_session(ctx.http, ctx.demo.site_key)
    visitor = await Conn.connect(ctx.ws_url + "/ws/visitor", f"visitor#{idx}", ctx.deflate)
    await visitor.hello(token)
    agent_token = ctx.agent_tokens[idx % len(ctx.agent_tokens)]
    agent = await open_agent(ctx, agent_token, f"agent#{idx}")

    cid = new_cid()
    acked = visitor.expect(_is("ack", cid=cid), _answers(cid=cid))
    await visitor.send({"type": "send", "cid": cid, "body": ctx.body})
    conv = str(
        (await visitor.wait(acked, "ack of the first send (opens the conversation)"))["conv"]
    )

    assigned = agent.expect(_is("event", name="conv.assigned", conv=conv), _answers(conv=conv))
    await agent.send({"type": "accept", "conv": conv})
    await agent.wait(assigned, f"event conv.assigned after accept of {conv}")

    cid = new_cid()
    acked = visitor.expect(_is("ack", cid=cid), _answers(cid=cid))
    delivered = agent.expect(_is("message", conv=conv, cid=cid))
    await visitor.send({"type": "send", "conv": conv, "cid": cid, "body": ctx.body})
    await visitor.wait(acked, "ack of the warm-up message")
    msg = await agent.wait(delivered, f"warm-up message of {conv} on the agent connection")

    prefix = dumps({"type": "send", "conv": conv, "body": ctx.body, "cid": ""})
    assert prefix.endswith('""}')
    return Pair(idx, visitor, agent, agent_token, conv, int(msg["seq"]), prefix[:-2])


async def setup_pairs(ctx: Ctx, count: int) -> list[Pair]:
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one(idx: int) -> Pair:
        async with gate:
            return await setup_pair(ctx, idx)

    results = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
    pairs = [r for r in results if isinstance(r, Pair)]
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        await asyncio.gather(*(p.close() for p in pairs))
        raise ProtocolError(f"{len(errors)} of {count} pairs failed to set up; first: {errors[0]}")
    return pairs


# --------------------------------------------------------------------------- one phase


class PairRun:
    """Counters of one pair during one measured phase. The handlers are the hot path."""

    def __init__(self, pair: Pair, window: int | None, expect_delivery: bool = True) -> None:
        self.pair = pair
        self.conv = pair.conv
        self.window = asyncio.Semaphore(window) if window else None
        self.expect_delivery = expect_delivery
        self.pending_ack: dict[str, float] = {}
        self.pending_del: dict[str, float] = {}
        self.ack_lat: list[float] = []
        self.del_lat: list[float] = []
        self.lags: list[float] = []
        self.total: int | None = None  # known once the sender is done
        self.sent = self.acked = self.failed = self.delivered = 0
        self.unexpected_acks = self.seq_regressions = self.foreign = 0
        self.last_seq = pair.agent_seq
        self.max_ack_seq = 0
        self.errors: Counter[str] = Counter()
        self.last_ack = self.last_delivery = 0.0
        self.done = asyncio.Event()
        pair.visitor.handler = self.on_visitor
        pair.agent.handler = self.on_agent

    def detach(self) -> None:
        self.pair.visitor.handler = None
        self.pair.agent.handler = None
        self.pair.agent_seq = self.last_seq  # the next phase checks order from here

    def on_visitor(self, f: Frame, now: float) -> None:
        kind = f.get("type")
        if kind == "ack":
            sent_at = self.pending_ack.pop(f.get("cid"), None)  # type: ignore[arg-type]
            if sent_at is None:
                self.unexpected_acks += 1
                return
            self.ack_lat.append(now - sent_at)
            self.acked += 1
            self.last_ack = now
            self.max_ack_seq = max(self.max_ack_seq, f.get("seq") or 0)
            if self.window is not None:
                self.window.release()
            self.check_done()
        elif kind == "error":
            self.errors[str(f.get("code"))] += 1
            cid = f.get("cid")
            if cid in self.pending_ack:
                del self.pending_ack[cid]
                self.pending_del.pop(cid, None)
                self.failed += 1
                if self.window is not None:
                    self.window.release()
                self.check_done()

    def on_agent(self, f: Frame, now: float) -> None:
        if f.get("type") != "message":
            if f.get("type") == "error":
                self.errors["agent:" + str(f.get("code"))] += 1
            return
        if f.get("conv") != self.conv:
            self.foreign += 1  # another pair's conversation of the same agent identity
            return
        seq = f.get("seq") or 0
        if seq <= self.last_seq:
            self.seq_regressions += 1
        else:
            self.last_seq = seq
        sent_at = self.pending_del.pop(f.get("cid"), None)  # type: ignore[arg-type]
        if sent_at is not None:
            self.del_lat.append(now - sent_at)
            self.delivered += 1
            self.last_delivery = now
            self.check_done()

    def check_done(self) -> None:
        if self.total is None or self.acked + self.failed < self.total:
            return
        if not self.expect_delivery or self.delivered >= self.acked:
            self.done.set()

    def new_send(self, stamp: float) -> str:
        cid = new_cid()
        self.pending_ack[cid] = stamp
        if self.expect_delivery:
            self.pending_del[cid] = stamp
        self.sent += 1
        return self.pair.send_prefix + cid + '"}'


async def closed_sender(run: PairRun, count: int) -> None:
    """Up to `window` un-acked sends; each ack lets the next one go."""
    send = run.pair.visitor.ws.send
    window = run.window
    assert window is not None
    run.total = count
    for _ in range(count):
        await window.acquire()
        await send(run.new_send(perf()))
    run.check_done()


async def open_sender(run: PairRun, first_due: float, interval: float, end: float) -> None:
    """Sends at fixed times whatever the acks do; latency counts from the scheduled time."""
    send = run.pair.visitor.ws.send
    due, n = first_due, 0
    while due < end:
        delay = due - perf()
        if delay > 0:
            await asyncio.sleep(delay)
        run.lags.append(perf() - due)
        await send(run.new_send(due))
        n += 1
        due = first_due + n * interval
    run.total = n
    run.check_done()


@dataclass
class Phase:
    runs: list[PairRun]
    start: float
    stop: float
    cpu_before: CpuSample
    cpu_after: CpuSample
    complete: bool
    problem: str


async def measure(
    runs: list[PairRun],
    senders: Callable[[float], Iterable[Coroutine[Any, Any, None]]],
    meter: CpuMeter,
    within: float,
) -> Phase:
    """Run the senders until every pair is done, a connection drops, or `within` s pass."""
    conns = [c for r in runs for c in (r.pair.visitor, r.pair.agent) if not c.ws.close_code]
    meter.start_profile()
    cpu_before = meter.sample()
    start = perf()
    tasks = [asyncio.ensure_future(s) for s in senders(start)]
    everything: asyncio.Future[Any] = asyncio.ensure_future(
        asyncio.gather(*tasks, *(r.done.wait() for r in runs))
    )
    dropped: list[asyncio.Future[Any]] = [asyncio.ensure_future(c.closed.wait()) for c in conns]
    finished, _ = await asyncio.wait(
        [everything, *dropped], timeout=within, return_when=asyncio.FIRST_COMPLETED
    )
    stop = perf()
    cpu_after = meter.sample()
    meter.stop_profile()
    problem = ""
    if everything in finished and everything.exception() is not None:
        problem = f"a sender failed: {everything.exception()!r}"
    elif everything not in finished:
        gone = [
            f"{c.name} closed {c.ws.close_code} {c.ws.close_reason!r}"
            for c in conns
            if c.closed.is_set()
        ]
        problem = (
            ("connection dropped: " + "; ".join(gone[:3]))
            if gone
            else f"nothing finished within {within:g} s"
        )
    for fut in (*tasks, everything, *dropped):
        fut.cancel()
    await asyncio.gather(everything, *dropped, return_exceptions=True)
    for run in runs:
        run.detach()
    return Phase(runs, start, stop, cpu_before, cpu_after, not problem, problem)


def summarize(phase: Phase) -> dict[str, Any]:
    runs = phase.runs
    acked = sum(r.acked for r in runs)
    delivered = sum(r.delivered for r in runs)
    last_ack = max((r.last_ack for r in runs), default=0.0)
    last_delivery = max((r.last_delivery for r in runs), default=0.0)
    ack_span = last_ack - phase.start if last_ack else 0.0
    del_span = last_delivery - phase.start if last_delivery else 0.0
    errors: Counter[str] = Counter()
    for r in runs:
        errors.update(r.errors)
    return {
        "complete": phase.complete,
        "problem": phase.problem,
        "sent": sum(r.sent for r in runs),
        "acked": acked,
        "delivered": delivered,
        "failed": sum(r.failed for r in runs),
        "errors": dict(errors),
        "wall_s": round(max(ack_span, del_span), 3),
        "acked_per_s": rate(acked, ack_span),
        "delivered_per_s": rate(delivered, del_span),
        "send_to_ack_ms": percentiles([x for r in runs for x in r.ack_lat]),
        "send_to_deliver_ms": percentiles([x for r in runs for x in r.del_lat]),
        **cpu_figures(phase.cpu_before, phase.cpu_after, acked),
        "anomalies": {
            "unexpected_acks": sum(r.unexpected_acks for r in runs),
            "seq_regressions": sum(r.seq_regressions for r in runs),
            "foreign_frames_per_msg": round(sum(r.foreign for r in runs) / delivered, 2)
            if delivered
            else 0,
        },
    }
