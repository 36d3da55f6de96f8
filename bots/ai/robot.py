"""The robot: a bridge of kind ``ai`` on the agent WebSocket (docs/ai.md, the contract).

It answers only conversations the server assigns to it (``conv.assigned`` naming this
bridge as an ``ai`` assignee) and stops the moment they leave it (a person accepts,
a transfer, a close, or a send refused as ``taken_over``). Its knowledge is its own
tenant's, read from ``/api/v1/bridges/me/knowledge`` at start and every
``ai_knowledge_refresh_secs`` (304 when unchanged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Coroutine
from typing import Any

from bots.ai.generation import GenerationConfig, Generator
from bots.ai.knowledge import parse_knowledge
from bots.ai.metrics import AiMetrics
from bots.ai.responder import Policy, Reply, Responder
from bots.ai.retrieval import Index
from bots.ai.text import warm
from bots.core.backoff import Backoff
from bots.core.breakers import Breakers
from bots.core.client import ApiError, NotConnected, SteadyClient
from bots.core.config import BridgeConfig
from steadywire import (
    Ack,
    BadFrame,
    ConvAssigned,
    ConvClosed,
    ConvQueued,
    ConvTransferred,
    ConvUpdated,
    Error,
    Event,
    Message,
    Send,
    Transfer,
    Welcome,
)
from steadywire.enums import MessageKind, SenderType

log = logging.getLogger(__name__)

KNOWLEDGE_PATH = "/api/v1/bridges/me/knowledge"
SEND_MARGIN_SECS = 0.25  # kept from the first-reply budget for sending the reply


class Robot:
    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self.metrics = AiMetrics()
        self.server_breakers = Breakers(
            threshold=max(1, config.breaker_threshold),
            reset_secs=config.breaker_reset_secs,
            exclude=[],
            on_change=self.metrics.set_breaker,
        )
        self.llm_breakers = Breakers(
            threshold=max(1, config.ai_llm_breaker_threshold),
            reset_secs=config.ai_llm_breaker_reset_secs,
            exclude=[],
            on_change=self.metrics.set_breaker,
        )
        generator = None
        if config.ai_llm_url:
            generator = Generator(
                GenerationConfig(
                    config.ai_llm_url,
                    config.ai_llm_model,
                    config.ai_llm_key,
                    config.ai_llm_timeout_secs,
                    config.ai_token_budget,
                ),
                self.llm_breakers,
                on_call=lambda outcome, secs: self.metrics.generation.labels(outcome).observe(secs),
            )
        self.responder = Responder(
            Policy(
                confidence=config.ai_confidence,
                low_turns=max(1, config.ai_low_turns),
                first_reply_secs=max(0.5, config.ai_first_reply_secs - SEND_MARGIN_SECS),
            ),
            generator,
        )
        self.client = SteadyClient(
            config.server,
            config.token,
            self,
            self._resume,
            self.server_breakers,
            backoff=Backoff(config.backoff_base_secs, config.backoff_cap_secs),
            on_retry=lambda reason: self.metrics.retry("server", reason),
        )
        self.server_state = "connecting"
        self.bridge_id = ""
        self.knowledge_version = ""
        self.held: set[str] = set()
        self.taken_over: set[str] = set()  # refused sends: a person has these now
        self._seen: dict[str, int] = {}  # conv -> highest seq read (the resume map)
        self._waiting: dict[str, tuple[str, float]] = {}  # unanswered visitor text, arrival
        self._locks: dict[str, asyncio.Lock] = {}
        self._unacked: dict[str, Send] = {}  # cid -> frame, resent on welcome
        self._tasks: set[asyncio.Task[None]] = set()
        # Set as things happen (tests and the bench await them; cleared by them).
        self.welcomed = asyncio.Event()
        self.let_go = asyncio.Event()

    # -- running ----------------------------------------------------------------------
    async def run(self) -> None:
        from bots.ai.http import AiHttpEndpoint  # sanic only where the endpoint runs

        endpoint = AiHttpEndpoint(self)
        await endpoint.start(self.config.host, self.config.port)
        poll = asyncio.get_running_loop().create_task(self._poll_knowledge())
        try:
            await self.client.run()
        finally:
            poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poll
            await self.stop()
            await endpoint.stop()

    async def stop(self) -> None:
        await self.client.aclose()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def refresh_knowledge(self) -> bool:
        """Re-read the knowledge base; True when it changed."""
        headers = {"If-None-Match": self.knowledge_version} if self.knowledge_version else {}
        try:
            resp = await self.client.get_raw(KNOWLEDGE_PATH, headers=headers)
        except ApiError as exc:  # keep the index we have
            log.warning("cannot read the knowledge base: %s", exc)
            return False
        if resp.status_code == 304:
            return False
        if resp.status_code != 200:
            log.warning("knowledge base: HTTP %s", resp.status_code)
            return False
        try:
            knowledge = parse_knowledge(resp.json())
        except ValueError:
            log.warning("knowledge base: not JSON")
            return False
        # Built off the event loop: jieba and numpy take a few ms per hundred articles.
        index = await asyncio.to_thread(Index, knowledge.docs)
        self.responder.index = index
        self.knowledge_version = knowledge.version
        return True

    async def _poll_knowledge(self) -> None:
        await asyncio.to_thread(warm)
        while True:
            await self.refresh_knowledge()
            await asyncio.sleep(max(1.0, self.config.ai_knowledge_refresh_secs))

    async def _resume(self) -> dict[str, int]:
        return {conv: self._seen.get(conv, 0) for conv in self.held}

    # -- frames in (ServerListener) ---------------------------------------------------
    def on_link(self, ok: bool, problem: str) -> None:
        self.server_state = "OK" if ok else (problem or "disconnected")
        self.metrics.connected.set(1 if ok else 0)

    async def on_welcome(self, welcome: Welcome) -> None:
        bridge_id = welcome.you.get("id")
        self.bridge_id = bridge_id if isinstance(bridge_id, str) else ""
        self.welcomed.set()
        for frame in list(self._unacked.values()):
            await self._send_frame(frame)  # the cid makes a repeat harmless

    async def on_messages(self, conv: str, messages: list[Message], *, more: bool) -> None:
        for message in messages:
            self._read(message)

    def _read(self, message: Message) -> None:
        conv = message.conv
        if message.seq <= self._seen.get(conv, 0):
            return
        self._seen[conv] = message.seq
        if message.sender.type != "visitor" or message.is_note or not message.body.strip():
            return
        self._waiting[conv] = (message.body, time.monotonic())
        if conv in self.held:
            self._in_background(self._answer(conv))

    async def on_event(self, event: Event) -> None:
        log.debug("event %s for %s", event.name, event.conv)  # no data: visitor details
        conv = event.conv
        if conv is None:
            return
        try:
            details = event.details()  # steadywire's typed data (None: a newer event)
        except BadFrame:
            return  # data this robot cannot read is not its to fix
        match details:
            case ConvQueued():  # its first messages; waiting for someone, maybe the robot
                for message in details.messages:
                    self._read(message)
                # conv.assigned follows if it is for the robot: the first words stay pending
                self.held.discard(conv)
            case ConvUpdated() if details.message is not None:  # a new message while it waits
                self._read(details.message)
            case ConvAssigned():
                holder = details.assignee or details.agent
                if holder.type == SenderType.AI and holder.id == self.bridge_id:
                    self.held.add(conv)
                    if conv in self._waiting:
                        self._in_background(self._answer(conv))
                else:
                    self._let_go(conv)
            case ConvTransferred():
                self._let_go(conv)
            case ConvClosed():
                self._let_go(conv)
                # The bridge hears every conversation of its scope: forget closed ones, or
                # a robot that runs for months keeps a cursor per conversation ever opened.
                self._seen.pop(conv, None)
                lock = self._locks.get(conv)
                if lock is not None and not lock.locked():
                    del self._locks[conv]

    def _let_go(self, conv: str) -> None:
        """The conversation is no longer ours: say nothing more in it."""
        self.held.discard(conv)
        self._waiting.pop(conv, None)
        self.responder.forget(conv)
        self.let_go.set()

    async def on_ack(self, ack: Ack) -> None:
        if ack.cid:
            self._unacked.pop(ack.cid, None)

    async def on_error(self, error: Error) -> None:
        if error.cid:
            self._unacked.pop(error.cid, None)
        if error.code == "forbidden" and error.conv:
            # taken_over: a person accepted it (checked on the server's send path).
            log.info("conversation %s is no longer the robot's: %s", error.conv, error.message)
            self.taken_over.add(error.conv)
            self._let_go(error.conv)
        elif error.code not in ("", "forbidden"):
            log.warning("server error %s: %s", error.code, error.message)

    # -- answering --------------------------------------------------------------------
    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("answering failed", exc_info=task.exception())

    async def _answer(self, conv: str) -> None:
        lock = self._locks.setdefault(conv, asyncio.Lock())
        async with lock:  # one reply at a time per conversation, in order
            waiting = self._waiting.pop(conv, None)
            if waiting is None or conv not in self.held:
                return
            text, arrived = waiting
            reply = await self.responder.respond(conv, text, arrived)
            if conv not in self.held:
                return  # a person took over while the robot was thinking
            await self._deliver(conv, reply)
            self.metrics.first_reply.observe(time.monotonic() - arrived)
            self.metrics.answers.labels(reply.source).inc()
            if reply.fallback:
                self.metrics.fallbacks.labels(reply.fallback).inc()

    async def _deliver(self, conv: str, reply: Reply) -> None:
        await self._send(Send(self._cid(), reply.text, conv))
        if reply.note:
            await self._send(Send(self._cid(), reply.note, conv, MessageKind.NOTE))
        if reply.handoff:
            self.metrics.handoffs.labels(reply.handoff).inc()
            await self._send_frame(Transfer(conv, to_queue=True, reason=reply.handoff))
            self._let_go(conv)

    async def _send(self, frame: Send) -> None:
        self._unacked[frame.cid] = frame
        await self._send_frame(frame)

    async def _send_frame(self, frame: Send | Transfer) -> None:
        try:
            await self.client.send(frame)
        except NotConnected:
            what = frame.cid if isinstance(frame, Send) else frame.type
            log.info("not connected: %s is sent again on the next welcome", what)

    @staticmethod
    def _cid() -> str:
        return f"ai:{uuid.uuid4().hex}"

    # -- health -----------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        generation = "off"
        if self.responder.generator is not None:
            generation = self.llm_breakers.state("llm")
        return {
            "server": self.server_state,
            "knowledge": {
                "version": self.knowledge_version,
                "docs": len(self.responder.index.docs),
            },
            "generation": generation,
            "breakers": {
                "server": self.server_breakers.state("server"),
                "llm": self.llm_breakers.state("llm"),
            },
            "held": len(self.held),
        }


__all__ = ["Robot"]
