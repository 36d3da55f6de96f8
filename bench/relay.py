"""A bare Sanic relay: the least a server can do for bench/chat_pairs.py (issue #17, item 5).

The yardstick the product is compared with in the same run (bench/compare.py): the same
framework, the same WebSocket library, the same JSON frames, and nothing else: no
database (conversations, sequence numbers and tokens live in dicts), no tenant guard, no
rendering, no idempotency, no presence, no queue fan-out, no metrics. Every message still
gets its `ack` and goes to the visitor's connections and the assigned agent's, as the
protocol asks. Not a server for anything but the benchmark.

    python bench/relay.py --port 8900 --demo-json /tmp/relay-demo.json
    python bench/chat_pairs.py --url http://127.0.0.1:8900 --demo-json /tmp/relay-demo.json \
        --server-pid <relay pid>
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import secrets
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
from sanic import Request, Sanic, Websocket
from sanic.response import HTTPResponse
from sanic.response import json as json_response

DEMO = {
    "tenant": "relay",
    "site_key": "relay-site",
    "admin": {"email": "admin@relay.example", "password": "relay"},
    "agents": [
        {"email": "agent1@relay.example", "password": "relay"},
        {"email": "agent2@relay.example", "password": "relay"},
    ],
}


class Relay:
    def __init__(self) -> None:
        self.tokens: dict[str, tuple[str, str]] = {}  # token -> (kind, id)
        self.agents: dict[str, str] = {}  # email -> agent id
        self.visitor_conv: dict[str, str] = {}  # visitor id -> its conversation
        self.convs: dict[str, dict[str, Any]] = {}  # id -> {visitor, agent, seq}
        self.sockets: dict[str, set[Websocket]] = defaultdict(set)  # "kind:id" -> sockets
        self.ids = itertools.count(1)
        self.writes: set[asyncio.Task[None]] = set()  # referenced until done

    def token(self, kind: str, ident: str) -> str:
        token = secrets.token_urlsafe(16)
        self.tokens[token] = (kind, ident)
        return token

    def agent_id(self, email: str) -> str:
        return self.agents.setdefault(email, f"a{next(self.ids)}")

    def push(self, who: str, frame: bytes) -> None:
        for ws in tuple(self.sockets.get(who, ())):
            # Sanic's send is a coroutine; the relay does not wait for slow readers.
            task = asyncio.ensure_future(ws.send(frame.decode()))
            self.writes.add(task)
            task.add_done_callback(self.writes.discard)

    def send(self, kind: str, ident: str, frame: dict[str, Any]) -> dict[str, Any] | None:
        conv_id = frame.get("conv")
        if kind == "visitor" and not conv_id:
            conv_id = self.visitor_conv.get(ident)
            if conv_id is None:
                conv_id = self.visitor_conv[ident] = f"c{next(self.ids)}"
                self.convs[conv_id] = {"visitor": ident, "agent": None, "seq": 0}
        conv = self.convs.get(conv_id or "")
        if conv is None:
            return {"type": "error", "code": "not_found", "message": "no such conversation"}
        conv["seq"] += 1
        ts = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        message = {
            "type": "message",
            "conv": conv_id,
            "id": f"m{next(self.ids)}",
            "seq": conv["seq"],
            "ts": ts,
            "kind": "text",
            "body": frame.get("body"),
            "html": frame.get("body"),
            "cid": frame.get("cid"),
            "sender": {"type": kind, "id": ident, "name": ""},
        }
        out = orjson.dumps(message)
        self.push("visitor:" + conv["visitor"], out)
        if conv["agent"]:
            self.push("agent:" + conv["agent"], out)
        return {
            "type": "ack",
            "cid": frame.get("cid"),
            "conv": conv_id,
            "id": message["id"],
            "seq": conv["seq"],
            "ts": ts,
        }

    def accept(self, agent: str, conv_id: str) -> None:
        conv = self.convs.get(conv_id)
        if conv is None:
            return
        conv["agent"] = agent
        event = orjson.dumps(
            {
                "type": "event",
                "name": "conv.assigned",
                "conv": conv_id,
                "data": {
                    "agent": {"type": "agent", "id": agent, "name": ""},
                    "last_seq": conv["seq"],
                },
            }
        )
        self.push("agent:" + agent, event)
        self.push("visitor:" + conv["visitor"], event)


def build_app(relay: Relay) -> Sanic:
    app = Sanic("bench_relay")
    app.config.WEBSOCKET_MAX_SIZE = 2**20

    @app.post("/api/v1/visitor/session")
    async def visitor_session(request: Request) -> HTTPResponse:
        visitor = f"v{next(relay.ids)}"
        return json_response({"token": relay.token("visitor", visitor), "visitor": visitor})

    @app.post("/api/v1/auth/login")
    async def login(request: Request) -> HTTPResponse:
        email = str((request.json or {}).get("email", ""))
        return json_response({"token": relay.token("agent", relay.agent_id(email))})

    @app.get("/api/v1/openapi.json")
    async def openapi(request: Request) -> HTTPResponse:
        return json_response({"paths": {"/api/v1/agents": {"post": {}}}})

    @app.post("/api/v1/agents")
    async def create_agent(request: Request) -> HTTPResponse:
        email = str((request.json or {}).get("email", ""))
        return json_response({"id": relay.agent_id(email)}, status=201)

    @app.get("/api/healthz")
    async def health(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    async def serve(ws: Websocket, expected: str) -> None:
        hello = orjson.loads(await ws.recv(timeout=5))
        kind, ident = relay.tokens.get(str(hello.get("token")), ("", ""))
        if kind != expected:
            await ws.close(4401, "bad token")
            return
        who = f"{kind}:{ident}"
        relay.sockets[who].add(ws)
        try:
            you = {
                "type": kind,
                "id": ident,
                "name": "",
                "conversation": relay.visitor_conv.get(ident),
            }
            await ws.send(orjson.dumps({"type": "welcome", "session": who, "you": you}).decode())
            async for raw in ws:
                frame = orjson.loads(raw)
                if frame.get("type") == "send":
                    answer = relay.send(kind, ident, frame)
                    if answer is not None:
                        await ws.send(orjson.dumps(answer).decode())
                elif frame.get("type") == "accept" and kind == "agent":
                    relay.accept(ident, str(frame.get("conv")))
        finally:
            relay.sockets[who].discard(ws)

    @app.websocket("/ws/visitor")
    async def ws_visitor(request: Request, ws: Websocket) -> None:
        await serve(ws, "visitor")

    @app.websocket("/ws/agent")
    async def ws_agent(request: Request, ws: Websocket) -> None:
        await serve(ws, "agent")

    return app


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8900)
    p.add_argument("--demo-json", type=Path, help="write the demo tenant JSON here")
    args = p.parse_args(argv)
    if args.demo_json:
        args.demo_json.write_text(json.dumps(DEMO))
    logging.getLogger("sanic.access").disabled = True
    app = build_app(Relay())
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
