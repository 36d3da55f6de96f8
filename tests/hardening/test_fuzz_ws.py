"""A hypothesis-driven WebSocket frame fuzzer against a live node, on both backends.

Each example opens a connection (visitor or agent), greets, and sends a sequence of
frames: known and unknown types with wild fields (huge and negative integers, floats,
unicode, nested lists and objects, the real conversation id now and then), text that is
not JSON, binary frames, deep nesting, oversized frames and invalid UTF-8. Whatever
happens, the node answers only with JSON objects that have a ``type``, never with
``internal_error``, closes only with a documented code, logs no traceback, and a
connection still open answers a ping.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from tests.support.clients import Clients, WsClient, login, open_conversation, visitor_session
from tests.support.server import ServerProcess

EXAMPLES = 300  # per role and backend
ALLOWED_CLOSES = {1000, 1007, 1009, 1013, 4400}
BAD_FRAMES_PER_MINUTE = 10  # the 11th closes 4400
TYPES = [
    "send",
    "sync",
    "typing",
    "read",
    "ping",
    "close",
    "accept",
    "transfer",
    "status",
    "page",
    "rate",
    "hello",
    "message",
    "batch",
    "",
    "SEND",
    "ping ",
]
FIELDS = [
    "conv",
    "cid",
    "body",
    "after",
    "limit",
    "seq",
    "on",
    "state",
    "kind",
    "to_agent",
    "to_department",
    "note",
    "rating",
    "comment",
    "url",
    "title",
    "referrer",
    "resume",
    "token",
    "attachments",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=5000),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def json_frames(draw: st.DrawFn, conv: str) -> str:
    frame: dict[str, Any] = {"type": draw(st.sampled_from(TYPES))}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=6, unique=True)):
        frame[name] = draw(st.one_of(values, st.just(conv)) if name == "conv" else values)
    return json.dumps(frame)


def actions(conv: str) -> st.SearchStrategy[tuple[str, Any]]:
    return st.one_of(
        json_frames(conv).map(lambda text: ("text", text)),
        st.text(max_size=200).map(lambda text: ("text", text)),
        st.binary(max_size=200).map(lambda data: ("binary", data)),
        st.integers(1, 3000).map(lambda depth: ("text", "[" * depth + "]" * depth)),
        st.integers(1, 3000).map(lambda depth: ("text", '{"a":' * depth + "1" + "}" * depth)),
        st.just(("text", json.dumps({"type": "send", "body": "x" * 70_000, "cid": "big"}))),
        st.binary(min_size=1, max_size=20).map(lambda data: ("bad-utf8", b'"\xff' + data)),
    )


@pytest.fixture(scope="module")
def fuzz_ws_node(module_server_factory) -> ServerProcess:  # type: ignore[no-untyped-def]
    return module_server_factory()  # type: ignore[no-any-return]


def _tracebacks(node: ServerProcess) -> int:
    return node.log_path.read_text(errors="replace").count("Traceback")


async def _play(
    node: ServerProcess, path: str, token: str, steps: list[tuple[str, Any]], problems: list[str]
) -> int:
    client = await WsClient.connect(node.ws_url + path, label=f"fuzz{path}")
    try:
        await client.hello(token)
        for kind, payload in steps:
            if client.closed.is_set():
                break
            try:
                if kind == "binary":
                    await client.ws.send(payload)
                elif kind == "bad-utf8":
                    await client.ws.send(payload, text=True)
                else:
                    await client.ws.send(payload)
            except Exception:
                break
        if not client.closed.is_set():
            try:
                await client.ping_pong(timeout=10)
            except ConnectionClosed:
                await client.wait_closed(5)
            except AssertionError as err:
                if not client.closed.is_set():
                    problems.append(f"no pong after {steps!r:.300}: {err}")
        allowed = set(ALLOWED_CLOSES)
        closing = any(kind == "bad-utf8" or len(payload) > 65536 for kind, payload in steps)
        if closing or len(steps) > BAD_FRAMES_PER_MINUTE:
            # Closed (1007, 1009, 4400) while our frames were still arriving: the kernel
            # may answer them with a reset that beats the close frame.
            allowed.add(1006)
        if client.closed.is_set() and client.close_code not in allowed:
            problems.append(
                f"closed {client.close_code} {client.close_reason!r} after {steps!r:.300}"
            )
        problems.extend(f"not a frame: {bad}" for bad in client.invalid)
        problems.extend(
            f"internal error after {steps!r:.200}: {f}"
            for f in client.log
            if f.get("type") == "error" and f.get("code") == "internal_error"
        )
        return len(steps)
    finally:
        await client.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_fuzzed_frames_never_break_the_node(
    fuzz_ws_node: ServerProcess, clients: Clients
) -> None:
    node = fuzz_ws_node
    assert node.demo is not None
    session = (await visitor_session(node, demo=node.demo)).json()
    agent_token = (await login(node, node.demo.admin))["token"]
    visitor = await clients.visitor(node, session=session)
    agent = await clients.agent(node, node.demo.admin, demo=node.demo)
    conv = await open_conversation(visitor, agent)
    await visitor.close()
    await agent.close()
    tracebacks = _tracebacks(node)
    problems: list[str] = []
    frames = 0
    started = time.monotonic()
    loop = asyncio.get_running_loop()

    def fuzz(path: str, token: str) -> None:
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(st.lists(actions(conv), min_size=1, max_size=12))
        def play(steps: list[tuple[str, Any]]) -> None:
            nonlocal frames
            frames += asyncio.run_coroutine_threadsafe(
                _play(node, path, token, steps, problems), loop
            ).result(60)

        play()

    for path, token in (("/ws/visitor", session["token"]), ("/ws/agent", agent_token)):
        await asyncio.to_thread(fuzz, path, token)
    took = time.monotonic() - started
    print(f"websocket fuzzer: {2 * EXAMPLES} connections, {frames} frames in {took:.0f} s")
    assert not problems, "\n".join(problems[:10])
    assert _tracebacks(node) == tracebacks, node.log_tail(80)
