"""A Slack delivery whose handling failed must be handled when Slack retries it: the
event id is remembered only once the reply is stored. The real SlackPlatform (Bolt) and
Bridge in this process, the local Slack, and the state store failing once mid-delivery."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import peewee as pw
import pytest
import pytest_asyncio
from slack_bolt.request.async_request import AsyncBoltRequest

from bots.core.bridge import Bridge
from bots.core.config import load_config
from bots.core.model import Conversation, ThreadRef, Visitor
from bots.slack.adapter import SlackPlatform
from tests.fakes.slack import FakeSlack

CHANNEL = "C0SUPPORT"
ROOT = "1700000000.000001"
USER = "U0AGENT1"


@pytest_asyncio.fixture
async def wired(tmp_path: Path) -> AsyncIterator[tuple[Bridge, SlackPlatform, FakeSlack]]:
    slack = await FakeSlack().start()
    config = load_config(
        "slack",
        environ={
            # Never reached: the bridge's client is not started in this test.
            "STEADY_BRIDGE_SERVER": "http://127.0.0.1:9",
            "STEADY_BRIDGE_TOKEN": "sdb_unused",
            "STEADY_BRIDGE_STATE": str(tmp_path / "state.sqlite3"),
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_API_URL": slack.api_url,
            "SLACK_CHANNEL": CHANNEL,
        },
    )
    platform = SlackPlatform.from_config(config)
    bridge = Bridge(config, platform)
    await bridge.store.open()
    await bridge.store.start_thread(Conversation("conv1", Visitor("Ada")), CHANNEL)
    (opened,) = await bridge.store.head("conv1")
    await bridge.store.op_done(
        opened, channel=CHANNEL, platform_id=ROOT, thread=ThreadRef(CHANNEL, ROOT)
    )
    await bridge.store.link(f"T0STEADY:{USER}", "agent-1")
    await platform.start(bridge)
    yield bridge, platform, slack
    await bridge.client.aclose()
    await bridge.store.close()
    await slack.stop()


async def deliver(slack: FakeSlack, platform: SlackPlatform, payload: dict[str, Any], retry: int):
    body = json.dumps(payload)
    headers: dict[str, Any] = slack.signed_headers(body.encode(), content_type="application/json")
    if retry:
        headers["X-Slack-Retry-Num"] = str(retry)
    return await platform.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))


async def test_a_delivery_that_failed_is_handled_on_slacks_retry(
    wired: tuple[Bridge, SlackPlatform, FakeSlack], monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge, platform, slack = wired
    posted = slack.user_message(CHANNEL, ROOT, USER, "the answer")
    event = slack.message_event(posted)
    real = bridge.store.record_inbound
    failures = iter([pw.OperationalError("disk I/O error")])

    async def failing_once(*args: Any, **kwargs: Any) -> bool:
        for failure in failures:
            raise failure
        return await real(*args, **kwargs)

    monkeypatch.setattr(bridge.store, "record_inbound", failing_once)
    first = await deliver(slack, platform, event, retry=0)
    assert first.status >= 500  # Slack will retry it
    assert await bridge.store.inbound(f"slack:{CHANNEL}:{posted.ts}") is None
    again = await deliver(slack, platform, event, retry=1)
    assert again.status == 200
    stored = await bridge.store.inbound(f"slack:{CHANNEL}:{posted.ts}")
    assert stored is not None and stored.frame["body"] == "the answer"
    # Handled now: a further retry is a repeat (and would be one anyway by its cid).
    assert await bridge.delivered_before(str(event["event_id"]))
