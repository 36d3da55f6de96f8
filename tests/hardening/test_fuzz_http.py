"""Schemathesis against ``/api/v1/openapi.json`` of a live node, on both backends.

Every operation, as anonymous, visitor, agent and admin, with generated paths, queries
and bodies (about ``EXAMPLES`` each). No answer may be a 5xx, every error must have the
PROTOCOL §3 shape (no traceback, SQL or secret), and every answer must be what the
route says it serves (JSON under ``/api``). Bounded: the module takes a minute or two.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support.clients import Clients, login, open_conversation, visitor_session
from tests.support.server import ServerProcess

EXAMPLES = 10
# Query parameters the routes read (the OpenAPI document does not list them), with
# values from ordinary to absurd.
QUERIES = st.dictionaries(
    st.sampled_from(
        [
            "after",
            "limit",
            "before",
            "status",
            "assignee",
            "offline",
            "q",
            "from",
            "to",
            "since",
            "until",
            "group",
            "label",
            "agent",
            "tenant",
        ]
    ),
    st.one_of(
        st.integers(-(2**80), 2**80).map(str),
        st.sampled_from(
            [
                "9223372036854775808",
                "-1",
                "0",
                "1e400",
                "NaN",
                "me",
                "open",
                "2026-02-30",
                "99999-01-01",
                "1" * 5000,
                "",
                "%00",
                "true",
            ]
        ),
        st.text(max_size=30),
    ),
    max_size=4,
)
BUDGET_SECS = 150.0  # per backend; the examples run out well before
LEAKS = ("Traceback", 'File "', "peewee", "pymysql", "sqlite3", "SELECT ", "INSERT ")


def _problems(path: str, response: Any, secrets: list[str]) -> list[str]:
    problems = []
    status = response.status_code
    text = response.text
    if status >= 500:
        problems.append(f"{status}: {text[:200]}")
    if any(leak in text for leak in LEAKS) or any(s and s in text for s in secrets):
        problems.append(f"leak in {status}: {text[:200]}")
    if status >= 400 and status != 499:
        try:
            body = json.loads(text)
            error = body["error"]
            assert set(body) == {"error"}
            assert isinstance(error["code"], str) and isinstance(error["message"], str)
        except (ValueError, KeyError, TypeError, AssertionError):
            problems.append(f"{status} without the error shape: {text[:200]}")
    elif (
        200 <= status < 300
        and status != 204
        and path.startswith("/api")
        and "json" not in str(response.headers.get("content-type", ""))
    ):
        problems.append(f"{status} is not JSON: {response.headers.get('content-type')}")
    return problems


@pytest.fixture(scope="module")
def fuzz_node(module_server_factory) -> ServerProcess:  # type: ignore[no-untyped-def]
    return module_server_factory()  # type: ignore[no-any-return]


async def _roles(node: ServerProcess) -> dict[str, dict[str, str]]:
    assert node.demo is not None
    session = (await visitor_session(node, demo=node.demo)).json()
    agent = await login(node, node.demo.agents[0])
    admin = await login(node, node.demo.admin)
    return {
        "anonymous": {},
        "visitor": {"authorization": f"Bearer {session['token']}"},
        "agent": {"authorization": f"Bearer {agent['token']}"},
        "admin": {"authorization": f"Bearer {admin['token']}"},
    }


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_every_route_as_every_role_answers_in_the_documented_shapes(
    fuzz_node: ServerProcess, clients: Clients
) -> None:
    node = fuzz_node
    assert node.demo is not None
    roles = await _roles(node)
    visitor = await clients.visitor(node, demo=node.demo)
    agent = await clients.agent(node, node.demo.agents[0], demo=node.demo)
    conv = await open_conversation(visitor, agent)
    assert visitor.welcome is not None and agent.welcome is not None
    known_ids = {
        "conv": conv,
        "conversation_id": conv,
        "site_key": node.demo.site_key,
        "visitor_id": visitor.welcome["you"]["id"],
        "agent_id": agent.welcome["you"]["id"],
    }
    secrets = [node.demo.site_secret, node.demo.api_secret, node.demo.admin.password]
    schema = schemathesis.openapi.from_url(node.url + "/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    found: list[str] = []
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    requests = 0

    def run(role: str, headers: dict[str, str], operation: Any) -> None:
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(operation.as_strategy(), QUERIES, st.booleans())
        def call(case: Any, query: dict[str, str], real_ids: bool) -> None:
            nonlocal requests
            if case.method == "GET" and query and not case.query:
                case.query = query  # the document names no query parameters: try ours
            if real_ids and case.path_parameters:
                # Made-up ids stop at 404; real ones reach the code behind the lookup.
                for name in case.path_parameters:
                    if name in known_ids:
                        case.path_parameters[name] = known_ids[name]
            response = case.call(base_url=node.url, headers=headers, timeout=30)
            requests += 1
            statuses[response.status_code] += 1
            for problem in _problems(case.path, response, secrets):
                found.append(f"{role} {case.method} {case.formatted_path}: {problem}")

        call()

    for role, headers in roles.items():
        for operation in operations:
            if time.monotonic() - started < BUDGET_SECS:
                await asyncio.to_thread(run, role, headers, operation)
    took = time.monotonic() - started
    print(
        f"schemathesis: {requests} requests over {len(operations)} operations x "
        f"{len(roles)} roles in {took:.0f} s; statuses {dict(sorted(statuses.items()))}"
    )
    assert not found, "\n".join(found[:20])
