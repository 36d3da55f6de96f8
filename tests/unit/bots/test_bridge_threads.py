"""The core's thread life (bots/core/bridge.py with its real state store): a conversation
closed stays closed when its last messages arrive after the close, and a visitor's
follow-up conversation goes on in the closed one's thread on platforms that ask for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bots.core.bridge import Bridge
from bots.core.config import BridgeConfig
from bots.core.model import ChatUser, Conversation, Item, OpKind, ThreadRef, Visitor
from bots.core.platform import Platform, PlatformUnavailable, ThreadStart
from steadywire import Event, Message


class Unreachable(Platform):
    """A platform that is never called here: these tests read the outbox."""

    kind = "test"

    def __init__(self, continues: bool) -> None:
        self.continues_previous = continues

    def channel_for(self, department: str | None) -> str:
        return "G1"

    def intro(self, conversation: Conversation) -> str | None:
        return f"about {conversation.visitor.name}" if self.continues_previous else None

    async def check(self) -> None: ...
    async def open_thread(self, start: ThreadStart, ref: str) -> ThreadRef:
        raise AssertionError("not posted in these tests")

    async def find_thread(self, conv: str, channel: str) -> ThreadRef | None:
        return None

    async def post(self, thread: ThreadRef, item: Item, ref: str) -> str:
        raise AssertionError("not posted in these tests")

    async def post_notice(self, thread: ThreadRef, conv: str, text: str, ref: str) -> str:
        raise AssertionError("not posted in these tests")

    async def find(self, thread: ThreadRef, conv: str, ref: str) -> str | None:
        return None

    async def post_pointer(self, old: ThreadRef, new: ThreadRef, conv: str, ref: str) -> str:
        raise AssertionError("not posted in these tests")

    async def tell(self, user: ChatUser, text: str) -> None: ...


def message(conv: str, seq: int, body: str) -> Message:
    return Message.from_wire(
        {
            "type": "message",
            "conv": conv,
            "seq": seq,
            "ts": "2026-01-01T00:00:00Z",
            "sender": {"type": "visitor", "id": "v1", "name": "Ada"},
            "body": body,
            "cid": f"c{seq}",
            "kind": "text",
        }
    )


def queued(conv: str) -> Event:
    data: dict[str, Any] = {
        "visitor": {"name": "Ada", "page_url": "https://shop.test/"},
        "department": None,
        "messages": [],
    }
    return Event("conv.queued", conv, data)


def closed(conv: str) -> Event:
    return Event("conv.closed", conv, {"by": {"type": "agent", "id": "a1", "name": "Bo"}})


async def make_bridge(tmp_path: Path, continues: bool) -> AsyncIterator[Bridge]:
    config = BridgeConfig(
        kind="test", server="http://127.0.0.1:9", token="t", state=str(tmp_path / "s.db")
    )
    bridge = Bridge(config, Unreachable(continues))
    bridge.poster._stopping = True  # nothing is posted: the outbox is what is checked
    await bridge.store.open()
    yield bridge
    await bridge.client.aclose()
    await bridge.store.close()


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    async for b in make_bridge(tmp_path, continues=False):
        yield b


@pytest.fixture
async def continuing(tmp_path: Path) -> AsyncIterator[Bridge]:
    async for b in make_bridge(tmp_path, continues=True):
        yield b


async def test_messages_after_the_close_do_not_reopen_the_thread(bridge: Bridge) -> None:
    await bridge.on_event(queued("c1"))
    await bridge.on_messages("c1", [message("c1", 1, "hi")], more=False)
    await bridge.on_event(closed("c1"))
    # The server reads what is left of a closed conversation after conv.closed.
    await bridge.on_messages("c1", [message("c1", 2, "bye")], more=False)
    kinds = [op.kind for op in await bridge.store.head("c1", 10)]
    assert kinds == [OpKind.OPEN, OpKind.POST, OpKind.CLOSE, OpKind.POST]
    thread = await bridge.store.thread("c1")
    assert thread is not None and thread.status == "closed"
    assert await bridge.store.resume_map() == {}


async def test_a_follow_up_goes_on_in_the_closed_thread(continuing: Bridge) -> None:
    store = continuing.store
    await continuing.on_event(queued("c1"))
    await continuing.on_messages("c1", [message("c1", 1, "hi")], more=False)
    first = await store.head("c1", 10)
    assert [op.kind for op in first] == [OpKind.OPEN, OpKind.NOTICE, OpKind.POST]
    assert first[1].payload == {"text": "about Ada"}
    await store.op_done(first[0], channel="G1", platform_id="77", thread=ThreadRef("G1", "77"))
    await continuing.on_event(closed("c1"))
    # As the back-fill's listing rows (and a conversation's detail) name it.
    await continuing._ensure_thread("c2", {"visitor": {"name": "Ada"}, "previous": "c1"})
    await continuing.on_messages("c2", [message("c2", 1, "again")], more=False)
    ops = await store.head("c2", 10)
    assert [op.kind for op in ops] == [OpKind.REOPEN, OpKind.NOTICE, OpKind.POST]
    assert ops[0].payload == {"after": "c1"}
    follow_up = await store.thread("c2")
    assert follow_up is not None and follow_up.ref == ThreadRef("G1", "77")
    # Replies in the thread are for the open conversation now.
    record = await store.thread_by_root("G1", "77")
    assert record is not None and record.conv == "c2"
    assert await store.resume_map() == {"c2": 1}


async def test_a_follow_up_of_an_unknown_conversation_gets_its_own_thread(
    continuing: Bridge,
) -> None:
    await continuing._ensure_thread("c3", {"visitor": {"name": "Ada"}, "previous": "gone"})
    ops = await continuing.store.head("c3", 10)
    assert [op.kind for op in ops] == [OpKind.OPEN, OpKind.NOTICE]


class AcceptsThenTimesOut(Unreachable):
    """Takes the root (with the first message on it) but the answer never comes back;
    finds it afterwards, as Slack's read-back does."""

    def __init__(self) -> None:
        super().__init__(continues=False)
        self.roots: list[ThreadStart] = []
        self.posts: list[Item] = []

    async def open_thread(self, start: ThreadStart, ref: str) -> ThreadRef:
        self.roots.append(start)
        raise PlatformUnavailable("timed out")

    async def find_thread(self, conv: str, channel: str) -> ThreadRef | None:
        return ThreadRef(channel, "root-1") if self.roots else None

    async def post(self, thread: ThreadRef, item: Item, ref: str) -> str:
        self.posts.append(item)
        return f"p{item.seq}"


async def test_a_root_found_after_an_unknown_outcome_counts_its_first_message(
    tmp_path: Path,
) -> None:
    config = BridgeConfig(
        kind="test", server="http://127.0.0.1:9", token="t", state=str(tmp_path / "s.db")
    )
    platform = AcceptsThenTimesOut()
    bridge = Bridge(config, platform)
    await bridge.store.open()
    try:
        await bridge.store.start_thread(Conversation("c1", Visitor("Ada")), "G1")
        bridge.poster._stopping = True  # queued only: drained once, below
        await bridge.on_messages(
            "c1", [message("c1", 1, "first"), message("c1", 2, "second")], more=False
        )
        bridge.poster._stopping = False
        await bridge.poster._drain("c1")
        assert [r.first.body if r.first else None for r in platform.roots] == ["first"]
        assert [p.body for p in platform.posts] == ["second"]  # "first" is on the root
        assert await bridge.store.head("c1", 10) == []
    finally:
        await bridge.poster.stop()
        await bridge.client.aclose()
        await bridge.store.close()


def greeting(conv: str, seq: int, body: str) -> Message:
    """The site's greeting: a system message, stored before the visitor's first one."""
    return Message.from_wire(
        {
            "type": "message",
            "conv": conv,
            "seq": seq,
            "ts": "2026-01-01T00:00:00Z",
            "sender": {"type": "system", "id": "system", "name": ""},
            "body": body,
            "cid": "steady:greeting",
            "kind": "text",
        }
    )


class Records(AcceptsThenTimesOut):
    """Takes every post and answers; ``shows_first`` as the platform's root does."""

    def __init__(self, shows_first: bool = True) -> None:
        super().__init__()
        self.root_shows_first = shows_first

    async def open_thread(self, start: ThreadStart, ref: str) -> ThreadRef:
        self.roots.append(start)
        return ThreadRef(start.channel, "root-1")


async def drained(tmp_path: Path, platform: AcceptsThenTimesOut, messages: list[Message]) -> None:
    """A new conversation's ``messages`` queued together (as ``conv.queued`` brings them),
    then the outbox drained once; it must be empty after."""
    config = BridgeConfig(
        kind="test", server="http://127.0.0.1:9", token="t", state=str(tmp_path / "s.db")
    )
    bridge = Bridge(config, platform)
    await bridge.store.open()
    try:
        bridge.poster._stopping = True  # queued only: drained once, below
        hint = {"visitor": {"name": "Ada", "page_url": "https://shop.test/"}}
        await bridge.on_messages("c1", messages, more=False, hint=hint)
        bridge.poster._stopping = False
        await bridge.poster._drain("c1")
        assert await bridge.store.head("c1", 10) == []
    finally:
        await bridge.poster.stop()
        await bridge.client.aclose()
        await bridge.store.close()


GREETED = [
    greeting("c1", 1, "How can we help?"),
    message("c1", 2, "question"),
    message("c1", 3, "more"),
]


@pytest.mark.parametrize("platform", [Records(), AcceptsThenTimesOut()], ids=["ok", "unknown"])
async def test_a_greeted_root_shows_the_question_and_the_greeting_follows(
    tmp_path: Path, platform: AcceptsThenTimesOut
) -> None:
    """The greeting (seq 1) is queued between the root and the visitor's question: the
    root shows the question all the same, the greeting is the thread's first post, the
    question is not posted again; also when the root's outcome was unknown and it was
    found afterwards (its intent named the question before the call)."""
    await drained(tmp_path, platform, GREETED)
    assert [r.first.body if r.first else None for r in platform.roots][-1] == "question"
    assert [p.body for p in platform.posts] == ["How can we help?", "more"]


async def test_a_root_that_shows_no_message_leaves_the_question_in_the_thread(
    tmp_path: Path,
) -> None:
    platform = Records(shows_first=False)  # a Telegram topic: a name, no message
    await drained(tmp_path, platform, GREETED)
    assert [r.first for r in platform.roots] == [None]
    assert [p.body for p in platform.posts] == ["How can we help?", "question", "more"]


async def test_a_root_with_only_the_greeting_behind_it_waits_for_the_question(
    tmp_path: Path,
) -> None:
    """The greeting arrived, the question not yet (a back-fill read between the two): the
    root waits for it (a few seconds at most, as for a root with nothing behind it)."""
    config = BridgeConfig(
        kind="test", server="http://127.0.0.1:9", token="t", state=str(tmp_path / "s.db")
    )
    platform = Records()
    bridge = Bridge(config, platform)
    await bridge.store.open()
    try:
        hint = {"visitor": {"name": "Ada", "page_url": "https://shop.test/"}}
        await bridge.on_messages("c1", GREETED[:1], more=False, hint=hint)
        await asyncio.sleep(0.5)
        assert platform.roots == []
        await bridge.on_messages("c1", GREETED[1:], more=False)
        for _ in range(100):
            if not await bridge.store.head("c1", 1):
                break
            await asyncio.sleep(0.05)
        assert [r.first.body if r.first else None for r in platform.roots] == ["question"]
        assert [p.body for p in platform.posts] == ["How can we help?", "more"]
    finally:
        await bridge.poster.stop()
        await bridge.client.aclose()
        await bridge.store.close()
