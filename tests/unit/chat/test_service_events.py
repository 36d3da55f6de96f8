"""Chat's actions emit their own events (issue #12 item 1): a caller that is not the
gateway (the CLI, a bridge, another action) calls ``ChatService`` and the bus carries the
message, what a visitor's first message starts (``conv.queued``), typing and read, with
no gateway in between. A real database on each backend, a real store and ``LocalBus``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import peewee as pw
import pytest
import pytest_asyncio

from server.bus import Bus, Payload
from server.bus.local import LocalBus
from server.chat.directory import ConversationDirectory
from server.chat.events import MessagePublisher
from server.chat.service import ChatService
from server.chat.writer import GroupCommitWriter
from server.ids import new_id
from server.kernel import topics
from server.kernel.actors import Actor
from server.kernel.enums import ConversationStatus, SenderType
from server.storage.database import Store
from server.storage.guard import TenantScope
from server.storage.models import Conversation, Tenant

TENANT = "chatevents"


class Heard:
    """Everything published on some topics, in order."""

    def __init__(self, bus: Bus, *names: str) -> None:
        self.events: list[tuple[str, Payload]] = []
        for name in names:
            bus.subscribe(name, self.hear)

    def hear(self, topic: str, payload: Payload) -> None:
        self.events.append((topic, payload))

    async def wait_for(self, count: int) -> list[tuple[str, Payload]]:
        for _ in range(500):
            if len(self.events) >= count:
                return self.events
            await asyncio.sleep(0.01)
        raise AssertionError(f"heard {self.events}, wanted {count} events")


@pytest_asyncio.fixture
async def chat(database: pw.Database) -> AsyncIterator[ChatService]:
    if Tenant.get_or_none(Tenant.id == TENANT) is None:
        Tenant.create(id=TENANT, name=TENANT)
    store = Store(database, threads=2)
    bus = LocalBus()
    await bus.start()
    writer = GroupCommitWriter(database, batch_max=8, publish=MessagePublisher(bus))
    writer.start()
    service = ChatService(store, bus, ConversationDirectory(store), writer, body_max_chars=1000)
    try:
        yield service
    finally:
        await writer.drain_and_stop(5)
        await bus.stop()


def queued_conversation(visitor: Actor) -> str:
    conv = new_id()
    TenantScope(TENANT).create(
        Conversation,
        id=conv,
        site_id="site",
        visitor_id=visitor.id,
        status=ConversationStatus.QUEUED.value,
        open_key=visitor.id,
    )
    return conv


def visitor() -> Actor:
    return Actor(SenderType.VISITOR, new_id(), TENANT, "Visitor", site_id="site")


def kinds(events: list[tuple[str, Payload]]) -> list[tuple[str, Any]]:
    return [(topic, payload.get("name") or payload["type"]) for topic, payload in events]


@pytest.mark.asyncio
async def test_a_visitors_first_message_is_published_and_queued_without_the_gateway(
    chat: ChatService,
) -> None:
    guest = visitor()
    conv = queued_conversation(guest)
    heard = Heard(chat.bus, topics.conversation(conv), topics.agents(TENANT))
    result = await chat.send(guest, conv, "c1", "hello")
    assert result.message.seq == 1
    events = await heard.wait_for(2)
    assert kinds(events) == [
        (topics.conversation(conv), "message"),
        (topics.agents(TENANT), "conv.queued"),
    ]
    queued = events[1][1]
    assert queued["conv"] == conv
    assert [m["body"] for m in queued["data"]["messages"]] == ["hello"]


@pytest.mark.asyncio
async def test_a_later_message_while_queued_updates_the_agents_queue(chat: ChatService) -> None:
    guest = visitor()
    conv = queued_conversation(guest)
    heard = Heard(chat.bus, topics.agents(TENANT))
    await chat.send(guest, conv, "c1", "hello")
    await chat.send(guest, conv, "c2", "anyone?")
    await chat.send(guest, conv, "c3", "hello?")
    events = await heard.wait_for(3)
    # The announcement and the updates are made apart (the first reads the database).
    assert sorted(name for _, name in kinds(events)) == [
        "conv.queued",
        "conv.updated",
        "conv.updated",
    ]
    updated = [p for _, p in events if p["name"] == "conv.updated"]
    assert sorted(p["data"]["last_seq"] for p in updated) == [2, 3]


@pytest.mark.asyncio
async def test_a_failed_send_emits_nothing(chat: ChatService) -> None:
    guest = visitor()
    conv = queued_conversation(guest)
    heard = Heard(chat.bus, topics.conversation(conv), topics.agents(TENANT))
    with pytest.raises(Exception, match="access"):
        await chat.send(visitor(), conv, "c1", "not mine")  # another visitor's conversation
    await asyncio.sleep(0.1)
    assert heard.events == []


@pytest.mark.asyncio
async def test_typing_and_read_are_published_by_chat(chat: ChatService) -> None:
    guest = visitor()
    conv = queued_conversation(guest)
    heard = Heard(chat.bus, topics.conversation(conv))
    await chat.typing(guest, conv, True)
    await chat.mark_read(guest, conv, 0)
    events = await heard.wait_for(2)
    assert [payload for _, payload in events] == [
        {"type": "typing", "conv": conv, "on": True, "sender": guest.wire()},
        {"type": "read", "conv": conv, "seq": 0, "sender": guest.wire()},
    ]
