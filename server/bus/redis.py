"""The cluster bus: Redis pub/sub between nodes, the database as the source of truth.

* Local subscribers get a publication at once, from this node's own publish, so a
  node keeps serving its own clients while Redis is away; other nodes get it through
  Redis, and a node drops its own publications when they come back.
* Pub/sub is at-most-once. Receivers never trust it for completeness: a delivery
  cursor that sees a seq jump reads the gap from the database, and after Redis comes
  back every resync callback runs (the hub then re-reads every followed conversation).
* Two ways to listen (``STEADY_BUS_SUBSCRIBE``, see docs/scaling.md for the figures):
  ``pattern`` (one PSUBSCRIBE ``sd:*``; every node receives every publication and drops
  those for topics nobody here serves on the channel name, before decoding) or
  ``topics`` (one SUBSCRIBE per conversation this node serves, reference-counted by the
  local subscribers, so a node receives only its share of the message traffic; the few
  event topics, ``agents:``/``agent:``/``visitor:``/``bridge:``/``site:``/``monitor:``,
  stay on patterns so an agent's, a visitor's or a bridge's events never race a
  subscription). A conversation's subscription takes effect one round trip after ``subscribe``:
  ``on_subscribed`` callbacks then run so the hub re-reads that conversation from the
  database (no message published meanwhile is lost). After a reconnect every topic is
  subscribed again in a few commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from server.bus import Handler, Payload
from server.bus.codec import Codec, JsonCodec
from server.bus.local import LocalBus
from server.observability import metrics

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "sd:"
PATTERN = CHANNEL_PREFIX + "*"
# Published by a node that may have dropped publications (Redis was away from it): every
# other node then re-reads what it follows from the database. Without it, the last
# messages of a burst published into the outage would wait for a later message to reveal
# the gap.
RESYNC_CHANNEL = CHANNEL_PREFIX + "!resync"
PUBLISH_QUEUE_MAX = 100_000
SUBSCRIBE_CHUNK = 1000
# In per-topic mode: topics subscribed one by one (the volume); the rest by pattern.
PER_TOPIC_PREFIX = "conv:"
EVENT_PATTERNS = (
    CHANNEL_PREFIX + "agents:*",
    CHANNEL_PREFIX + "agent:*",
    CHANNEL_PREFIX + "visitor:*",
    CHANNEL_PREFIX + "bridge:*",
    CHANNEL_PREFIX + "site:*",  # a deleted site closes its visitors' sockets everywhere
    CHANNEL_PREFIX + "monitor:*",  # the live monitor's feed (admins who asked for it)
    CHANNEL_PREFIX + "settings",  # a tenant's settings changed: every node, connections or not
)
PING_INTERVAL_SECS = 1.0
SOCKET_TIMEOUT_SECS = 3.0
BACKOFF_START_SECS = 0.2
BACKOFF_MAX_SECS = 5.0
STOP_WAIT_SECS = 1.0  # per attempt to cancel the bus's tasks
STOP_ATTEMPTS = 5


class RedisBus:
    def __init__(self, url: str, node: str, *, per_topic: bool = False, codec: Codec | None = None):
        self._url = url
        self._codec: Codec = codec or JsonCodec()
        self._node = node
        self._per_topic = per_topic
        self._pubsub: PubSub | None = None  # the reader's, while connected
        self._changes: dict[str, bool] = {}  # channel -> subscribed, not yet sent
        self._changed = asyncio.Event()
        self._subscribed: list[Callable[[str], None]] = []
        self.received = 0  # publications read from Redis (for bench/bus.py)
        self._local = LocalBus()
        self._client: aioredis.Redis | None = None
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(PUBLISH_QUEUE_MAX)
        self._tasks: list[asyncio.Task[None]] = []
        self._connected = False
        self._reader: asyncio.Task[None] | None = None
        self._resync: list[Callable[[], None]] = []
        self.dropped = 0  # publications not sent because Redis was away
        self._owe_resync = False  # dropped something: ask the peers to resync

    # -- Bus -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._client = aioredis.Redis.from_url(
            self._url,
            socket_timeout=SOCKET_TIMEOUT_SECS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECS,
        )
        loop = asyncio.get_running_loop()
        self._reader = loop.create_task(self._read_forever(), name="redis-bus-reader")
        self._tasks = [
            self._reader,
            loop.create_task(self._publish_forever(), name="redis-bus-publisher"),
            loop.create_task(self._watch_forever(), name="redis-bus-watchdog"),
        ]
        if self._per_topic:
            self._tasks.append(
                loop.create_task(self._subscribe_forever(), name="redis-bus-subscriber")
            )

    async def stop(self) -> None:
        pending = set(self._tasks)
        # redis-py can swallow a cancellation that lands inside a blocking read
        # (redis/redis-py#2028): ask again instead of waiting forever on that task.
        for _attempt in range(STOP_ATTEMPTS):
            for task in pending:
                task.cancel()
            _done, pending = await asyncio.wait(pending, timeout=STOP_WAIT_SECS)
            if not pending:
                break
        if pending:
            log.warning("redis bus: %d task(s) ignored cancellation; left behind", len(pending))
        for task in self._tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: never "exception was never retrieved" at exit
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.aclose(), SOCKET_TIMEOUT_SECS)
        await self._local.stop()

    def publish(self, topic: str, payload: Payload) -> None:
        self._local.publish(topic, payload)
        if not self._connected:
            self._drop(1)  # the database has it; peers resync when Redis is back
            return
        try:
            self._outbox.put_nowait(
                (CHANNEL_PREFIX + topic, self._codec.encode(self._node, payload))
            )
        except asyncio.QueueFull:
            self._drop(1)

    def _drop(self, count: int) -> None:
        self.dropped += count
        metrics.BUS_DROPPED.inc(count)
        self._owe_resync = True

    def _ask_peers_to_resync(self) -> None:
        """Queue a resync request; the publisher sends it once Redis takes publications."""
        self._owe_resync = True
        if self._outbox.empty():
            self._outbox.put_nowait((RESYNC_CHANNEL, b""))  # wakes the publisher

    def subscribe(self, topic: str, handler: Handler) -> None:
        first = not self._local.has_subscribers(topic)
        self._local.subscribe(topic, handler)
        if first and self._per_topic and topic.startswith(PER_TOPIC_PREFIX):
            self._change(CHANNEL_PREFIX + topic, True)

    def unsubscribe(self, topic: str, handler: Handler) -> None:
        self._local.unsubscribe(topic, handler)
        if (
            self._per_topic
            and topic.startswith(PER_TOPIC_PREFIX)
            and not self._local.has_subscribers(topic)
        ):
            self._change(CHANNEL_PREFIX + topic, False)

    def _change(self, channel: str, subscribed: bool) -> None:
        self._changes[channel] = subscribed
        self._changed.set()

    def on_subscribed(self, callback: Callable[[str], None]) -> None:
        self._subscribed.append(callback)

    def healthy(self) -> bool:
        return self._connected

    def on_resync(self, callback: Callable[[], None]) -> None:
        """Called after Redis comes back: whatever was published meanwhile was missed."""
        self._resync.append(callback)

    # -- tasks -----------------------------------------------------------------------------
    async def _read_forever(self) -> None:
        backoff = BACKOFF_START_SECS
        ever_connected = False
        while True:
            assert self._client is not None
            pubsub = self._client.pubsub(ignore_subscribe_messages=not self._per_topic)
            try:
                await self._listen(pubsub)
                self._connected = True
                metrics.BUS_CONNECTED.set(1)
                backoff = BACKOFF_START_SECS
                if ever_connected:
                    metrics.BUS_RECONNECTS.inc()
                    log.info("redis bus reconnected: resyncing followed conversations")
                    self._run_resync()
                    self._ask_peers_to_resync()  # and they missed what we dropped
                ever_connected = True
                while True:
                    message = await pubsub.get_message(timeout=PING_INTERVAL_SECS)
                    if message is None:
                        continue
                    kind = message.get("type")
                    if kind in ("pmessage", "message"):
                        self._deliver(message["channel"], message["data"])
                    elif kind == "subscribe":
                        self._took_effect(message["channel"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as err:
                if self._connected:
                    log.warning("redis bus lost: %s", err)
            except Exception:
                log.exception("redis bus reader failed")
            finally:
                self._connected = False
                metrics.BUS_CONNECTED.set(0)
                self._pubsub = None
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), SOCKET_TIMEOUT_SECS)
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, BACKOFF_MAX_SECS)

    async def _listen(self, pubsub: PubSub) -> None:
        if not self._per_topic:
            await pubsub.psubscribe(PATTERN)
            return
        # Everything wanted now, in a few commands; later changes go through _changes.
        self._changes.clear()
        self._pubsub = pubsub
        await pubsub.psubscribe(*EVENT_PATTERNS)
        topics = [t for t in self._local.topics() if t.startswith(PER_TOPIC_PREFIX)]
        wanted = [RESYNC_CHANNEL, *(CHANNEL_PREFIX + t for t in topics)]
        for start in range(0, len(wanted), SUBSCRIBE_CHUNK):
            await pubsub.subscribe(*wanted[start : start + SUBSCRIBE_CHUNK])

    async def _subscribe_forever(self) -> None:
        """Send queued SUBSCRIBE/UNSUBSCRIBE commands on the reader's connection."""
        while True:
            await self._changed.wait()
            self._changed.clear()
            pubsub = self._pubsub
            if pubsub is None:
                continue  # the reader subscribes everything when it reconnects
            changes, self._changes = self._changes, {}
            adds = [c for c, on in changes.items() if on]
            removes = [c for c, on in changes.items() if not on]
            try:
                for start in range(0, len(adds), SUBSCRIBE_CHUNK):
                    await pubsub.subscribe(*adds[start : start + SUBSCRIBE_CHUNK])
                for start in range(0, len(removes), SUBSCRIBE_CHUNK):
                    await pubsub.unsubscribe(*removes[start : start + SUBSCRIBE_CHUNK])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as err:
                # The reader notices too, reconnects and subscribes everything again.
                log.warning("redis subscribe failed: %s", err)

    def _took_effect(self, channel: bytes) -> None:
        topic = channel.decode()[len(CHANNEL_PREFIX) :]
        if channel == RESYNC_CHANNEL.encode() or not self._local.has_subscribers(topic):
            return
        for callback in self._subscribed:
            try:
                callback(topic)
            except Exception:
                log.exception("subscribed callback failed")

    def _deliver(self, channel: bytes, data: bytes) -> None:
        self.received += 1
        if channel == RESYNC_CHANNEL.encode():
            origin, _ = self._codec.decode(data)
            if origin != self._node:
                log.info("node %s may have dropped publications: resyncing", origin)
                self._run_resync()
            return
        topic = channel.decode()[len(CHANNEL_PREFIX) :]
        if not self._local.has_subscribers(topic):
            return
        try:
            origin, payload = self._codec.decode(data)
        except (ValueError, KeyError, TypeError):  # orjson's JSONDecodeError is a ValueError
            log.warning("undecodable publication on %s", topic)
            return
        if origin != self._node:
            self._local.publish(topic, payload)

    def _run_resync(self) -> None:
        for callback in self._resync:
            try:
                callback()
            except Exception:
                log.exception("resync callback failed")

    async def _publish_forever(self) -> None:
        outbox = self._outbox
        while True:
            batch = [await outbox.get()]
            while not outbox.empty() and len(batch) < 512:
                batch.append(outbox.get_nowait())
            batch = [item for item in batch if item[0] != RESYNC_CHANNEL]
            if self._owe_resync:
                # Sent after this batch, so the peers' re-read sees everything dropped so far.
                self._owe_resync = False
                batch.append((RESYNC_CHANNEL, self._codec.encode(self._node, {})))
            if not batch:
                continue
            try:
                assert self._client is not None
                async with self._client.pipeline(transaction=False) as pipe:
                    for channel, data in batch:
                        pipe.publish(channel, data)
                    await pipe.execute()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as err:
                self._drop(len(batch))
                log.warning("redis publish failed: %s", err)
                await asyncio.sleep(BACKOFF_START_SECS)
                self._ask_peers_to_resync()  # retried until Redis takes it

    async def _watch_forever(self) -> None:
        """Pub/sub reads do not notice a Redis that stopped answering; a PING does."""
        while True:
            await asyncio.sleep(PING_INTERVAL_SECS)
            if not self._connected or self._client is None:
                continue
            try:
                await asyncio.wait_for(self._client.ping(), SOCKET_TIMEOUT_SECS)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError) as err:
                log.warning("redis does not answer (%s): reconnecting", err)
                self._connected = False
                if self._reader is not None:
                    self._reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await self._reader
                    self._reader = asyncio.get_running_loop().create_task(
                        self._read_forever(), name="redis-bus-reader"
                    )
                    self._tasks[0] = self._reader
