"""Helpers for tests that run the real robot (``bots.ai.robot.Robot``) in the test's
event loop against a real server: a robot of a tenant with a first_line site, articles
added over the admin API, and a predicate for the robot's messages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from bots.ai.robot import Robot
from bots.core.config import BridgeConfig
from tests.admin.conftest import call
from tests.ai.support import set_mode
from tests.support.bridges import new_bridge
from tests.support.server import DemoTenant, ServerProcess, free_port

FIRST_REPLY_SECS = 3.0


@contextlib.asynccontextmanager
async def running_robot(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, name: str, **settings: Any
) -> AsyncIterator[Robot]:
    """A first_line site and a robot of that tenant connected, with its knowledge read."""
    await set_mode(server, admin_token, tenant, "first_line")
    bridge = await new_bridge(server, admin_token, kind="ai", name=name)
    config = BridgeConfig(
        kind="ai",
        server=server.url,
        token=bridge.token,
        port=free_port(),
        ai_first_reply_secs=FIRST_REPLY_SECS,
        ai_low_turns=3,
        **settings,
    )
    robot = Robot(config)
    task = asyncio.get_running_loop().create_task(robot.run())
    await asyncio.wait_for(robot.welcomed.wait(), 10)
    await robot.refresh_knowledge()
    try:
        yield robot
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def add_articles(server: ServerProcess, token: str, articles: list[dict[str, Any]]) -> None:
    for article in articles:
        resp = await call(server, "POST", "/api/v1/knowledge/articles", token=token, body=article)
        assert resp.status_code == 201, resp.text


def from_robot(robot: Robot, conv: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: (
        f["type"] == "message"
        and f["conv"] == conv
        and f["sender"]["type"] == "ai"
        and f["sender"]["id"] == robot.bridge_id
    )
