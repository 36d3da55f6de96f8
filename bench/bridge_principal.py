"""What the server's bridge principal costs (docs/bridges.md): a pure protocol client.

Against a throw-away node (``--spawn sqlite|mysql``) it makes a bridge over the admin API,
links the demo's first agent to it with a link code, opens ``--convs`` conversations of
``--messages`` visitor messages each, then measures:

* **back-fill**: from the bridge's ``hello`` (no ``resume``) until it holds every message
  of every open conversation: seconds and messages per second;
* **live**: visitors send at ``--rate`` messages per second in total for ``--duration``
  seconds; the time from each visitor ``send`` to that message reaching the bridge
  (p50/p90/p99), the bridge following every open conversation at once;
* **as**: ``--sends`` messages sent one at a time by the bridge ``as`` the linked agent
  (each checked against the links, the agent and the scope), against the same number sent
  by that agent's own connection: ack latency p50/p99 of each.

    python bench/bridge_principal.py --spawn sqlite
    python bench/bridge_principal.py --spawn mysql --convs 100 --messages 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import httpx
from _client import Conn, ProtocolError, agent_login, new_cid, visitor_session, ws_base
from _report import percentiles, rate
from _server import DEFAULT_MYSQL_URL, SpawnedServer

Frame = dict[str, Any]


async def make_bridge(http: httpx.AsyncClient, admin: str, agent: str) -> tuple[str, str]:
    """A whole-tenant bridge with the agent of ``agent`` linked: (token, agent id)."""
    auth = {"Authorization": f"Bearer {admin}"}
    made = await http.post("/api/v1/bridges", headers=auth, json={"kind": "slack", "name": "b"})
    if made.status_code != 201:
        raise ProtocolError(f"POST /api/v1/bridges: HTTP {made.status_code} {made.text[:200]}")
    token = str(made.json()["token"])
    code = await http.post("/api/v1/me/link-code", headers={"Authorization": f"Bearer {agent}"})
    linked = await http.post(
        "/api/v1/bridges/links",
        headers={"Authorization": f"Bearer {token}"},
        json={"code": code.json()["code"], "external_user": "TBENCH:UBENCH"},
    )
    if linked.status_code != 200:
        raise ProtocolError(f"claiming a link code: HTTP {linked.status_code} {linked.text}")
    return token, str(linked.json()["agent_id"])


async def open_conversations(
    http: httpx.AsyncClient, ws_url: str, site_key: str, convs: int, messages: int
) -> list[tuple[Conn, str]]:
    opened = []
    for n in range(convs):
        visitor = await Conn.connect(ws_url + "/ws/visitor", f"visitor{n}")
        await visitor.hello(await visitor_session(http, site_key))
        conv = ""
        for i in range(messages):
            cid = new_cid()
            fut = visitor.expect(lambda f, c=cid: f.get("type") == "ack" and f.get("cid") == c)
            frame: Frame = {"type": "send", "cid": cid, "body": f"message {i}"}
            if conv:
                frame["conv"] = conv
            await visitor.send(frame)
            conv = str((await visitor.wait(fut, "ack"))["conv"])
        opened.append((visitor, conv))
    return opened


async def backfill(ws_url: str, token: str, total: int, within_secs: float) -> dict[str, Any]:
    bridge = await Conn.connect(ws_url + "/ws/agent", "bridge")
    got = 0
    done = asyncio.Event()

    def count(frame: Frame, now: float) -> None:
        nonlocal got
        if frame.get("type") == "message":
            got += 1
            if got >= total:
                done.set()

    bridge.handler = count
    started = time.perf_counter()
    await bridge.hello(token)
    await asyncio.wait_for(done.wait(), within_secs)
    seconds = time.perf_counter() - started
    await bridge.close()
    return {"messages": got, "seconds": round(seconds, 3), "messages_per_s": rate(got, seconds)}


async def live(
    ws_url: str, token: str, visitors: list[tuple[Conn, str]], per_s: float, duration: float
) -> dict[str, Any]:
    bridge = await Conn.connect(ws_url + "/ws/agent", "bridge-live")
    interval, count = 1.0 / per_s, int(per_s * duration)
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    all_seen = asyncio.Event()

    def seen(frame: Frame, now: float) -> None:
        at = sent_at.pop(str(frame.get("cid")), None) if frame.get("type") == "message" else None
        if at is not None:
            latencies.append(now - at)
            if not sent_at and len(latencies) == count:
                all_seen.set()

    await bridge.hello(token)
    await asyncio.sleep(1.0)  # the back-fill of what is already there goes first
    bridge.handler = seen
    start = time.perf_counter()
    for i in range(count):
        visitor, conv = visitors[i % len(visitors)]
        cid = new_cid()
        sent_at[cid] = time.perf_counter()
        await visitor.send({"type": "send", "cid": cid, "conv": conv, "body": f"live {i}"})
        await asyncio.sleep(max(0.0, start + (i + 1) * interval - time.perf_counter()))
    with contextlib.suppress(TimeoutError):  # what is still missing after 10 s is reported
        await asyncio.wait_for(all_seen.wait(), 10.0)
    await bridge.close()
    return {"sent": count, "missing": len(sent_at), "latency_ms": percentiles(latencies)}


async def ack_latency(conn: Conn, conv: str, sends: int, extra: Frame) -> dict[str, float | None]:
    latencies = []
    for i in range(sends):
        cid = new_cid()
        fut = conn.expect(
            lambda f, c=cid: f.get("type") == "ack" and f.get("cid") == c,
            lambda f, c=cid: f.get("cid") == c,
        )
        started = time.perf_counter()
        await conn.send({"type": "send", "cid": cid, "conv": conv, "body": f"ack {i}", **extra})
        await conn.wait(fut, "ack")
        latencies.append(time.perf_counter() - started)
    return percentiles(latencies)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    spawned = SpawnedServer(args.spawn, mysql_url=args.mysql_url)
    demo, _, _ = spawned.start()
    try:
        ws_url = ws_base(spawned.url)
        async with httpx.AsyncClient(base_url=spawned.url, timeout=30, trust_env=False) as http:
            admin = await agent_login(http, demo.tenant, demo.admin)
            agent = await agent_login(http, demo.tenant, demo.agents[0])
            token, agent_id = await make_bridge(http, admin, agent)
            visitors = await open_conversations(
                http, ws_url, demo.site_key, args.convs, args.messages
            )
        total = args.convs * args.messages
        result: dict[str, Any] = {"backend": args.spawn, "convs": args.convs}
        result["backfill"] = await backfill(ws_url, token, total, args.timeout)
        result["live"] = await live(ws_url, token, visitors, args.rate, args.duration)
        conv = visitors[0][1]
        bridge = await Conn.connect(ws_url + "/ws/agent", "bridge-as")
        await bridge.hello(token)
        own = await Conn.connect(ws_url + "/ws/agent", "agent")
        await own.hello(agent)
        await asyncio.sleep(1.0)
        result["ack_ms"] = {
            "agent_itself": await ack_latency(own, conv, args.sends, {}),
            "bridge_as_agent": await ack_latency(bridge, conv, args.sends, {"as": agent_id}),
        }
        for conn in (bridge, own, *(v for v, _ in visitors)):
            await conn.close()
        return result
    finally:
        spawned.stop()


def human(r: dict[str, Any]) -> str:
    def pct(p: dict[str, Any]) -> str:
        return f"p50 {p['p50']} ms, p90 {p['p90']} ms, p99 {p['p99']} ms, max {p['max']} ms"

    b, lv, ack = r["backfill"], r["live"], r["ack_ms"]
    return "\n".join(
        [
            f"bridge principal on {r['backend']}, {r['convs']} open conversations",
            f"back-fill: {b['messages']} messages in {b['seconds']} s ({b['messages_per_s']}/s)",
            f"live, visitor send -> bridge: {lv['sent']} sent, {lv['missing']} missing; "
            + pct(lv["latency_ms"]),
            "ack, agent itself:    " + pct(ack["agent_itself"]),
            "ack, bridge as agent: " + pct(ack["bridge_as_agent"]),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--spawn", choices=["sqlite", "mysql"], default="sqlite")
    p.add_argument("--mysql-url", default=DEFAULT_MYSQL_URL)
    p.add_argument("--convs", type=int, default=50, help="open conversations")
    p.add_argument("--messages", type=int, default=40, help="visitor messages in each")
    p.add_argument("--rate", type=float, default=50.0, help="live messages per second")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of live sending")
    p.add_argument("--sends", type=int, default=300, help="sends for the ack comparison")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = p.parse_args(argv)
    try:
        result = asyncio.run(run(args))
    except (ProtocolError, TimeoutError) as exc:
        print(f"bridge_principal: {exc or 'timed out'}", file=sys.stderr)
        return 1
    print(json.dumps(result) if args.json else human(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
