"""``/ws/visitor`` and ``/ws/agent``: handshake, then one reader loop per connection.

The reader never waits for a commit: ``send`` hands the message to the group-commit
writer and attaches a callback that queues the ack, so the socket keeps being read
(and pongs keep being seen) while commits are in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import orjson
from sanic import Request
from sanic.server.websockets.impl import WebsocketImplProtocol

from server.admin.auth import agent_actor, agent_profile, visitor_actor, visitor_origin_allowed
from server.admin.bridges import bridge_actor, is_bridge_token
from server.chat.access import access_conversation
from server.chat.queries import own_conversations, queued_conversations, queued_event
from server.chat.records import SendResult
from server.config import DeploymentMode
from server.errors import CloseCode, ErrorCode, Forbidden, SteadyError
from server.foundation.settings import tenant_settings
from server.gateway.auth import with_client
from server.gateway.batch import batch_frame
from server.gateway.connection import Connection, dumps
from server.gateway.context import Services
from server.gateway.net import client_ip
from server.gateway.send_budget import NodeSendBudget
from server.gateway.ws_bridges import BRIDGE_QUEUE_FACTOR, BridgeSessions
from server.gateway.ws_lean import can_receive, receive, trim
from server.gateway.ws_monitor import MonitorFrames
from server.gateway.ws_pages import PageFrames
from server.gateway.ws_protocol import adopt
from server.ints import in_int64
from server.kernel import topics
from server.kernel.actors import Actor
from server.kernel.enums import Role, SenderType
from server.observability import metrics
from server.routing.roster import offers_held
from server.security.ratelimit import SlidingWindow
from server.security.tokens import TokenKind
from steadywire.parse import dumps as dump_frame
from steadywire.server_frames import Pong, Welcome

log = logging.getLogger(__name__)

BAD_FRAME_WINDOW_SECS = 60.0
PONG = dump_frame(Pong())  # the same bytes for every ping
# A frame handler acts as ``actor``: the connection's own, or for a bridge the agent it
# names in ``as`` (server/gateway/ws_bridges.py).
Handler = Callable[[Connection, dict[str, Any], Actor], Awaitable[object]]

COMMON_FRAMES = {"send", "sync", "typing", "read", "ping", "close"}
VISITOR_FRAMES = COMMON_FRAMES | {"page", "rate", "handoff"}
AGENT_FRAMES = COMMON_FRAMES | {"accept", "transfer", "status", "monitor"}
ALL_FRAMES = AGENT_FRAMES | VISITOR_FRAMES


class Gateway:
    def __init__(self, services: Services):
        self.s = services
        self.pages = PageFrames(services)
        self.bridges = BridgeSessions(services)
        self.monitor = MonitorFrames(services)
        self.handlers: dict[str, Handler] = {
            "send": self.on_send,
            "sync": self.on_sync,
            "typing": self.on_typing,
            "read": self.on_read,
            "ping": self.on_ping,
            "close": self.on_close,
            "accept": self.on_accept,
            "transfer": self.on_transfer,
            "status": self.on_status,
            "page": self.pages.on_page,
            "rate": self.on_rate,
            "handoff": self.on_handoff,
            "monitor": self.monitor.on_monitor,
        }
        self._hellos: dict[Connection, dict[str, Any]] = {}
        self.send_budget = NodeSendBudget(services.settings.ws_send_buffer_node_bytes)

    # -- lifecycle -------------------------------------------------------------------
    async def serve(self, request: Request, ws: WebsocketImplProtocol, kind: TokenKind) -> None:
        adopt(ws)  # UTF-8 checked, lingering close (ws_protocol)
        # Until it is registered, a socket in its handshake is closed by shutdown from here.
        self.s.hub.handshaking.add(ws)
        try:
            conn = await self._handshake(request, ws, kind)
        finally:
            self.s.hub.handshaking.discard(ws)
        if conn is None:
            return
        try:
            try:
                await self._welcome(conn, self._hellos.pop(conn))
            except SteadyError as err:  # storage trouble while greeting: come back later
                log.warning("welcome failed: %s", err.message)
                await conn.close(CloseCode.TRY_AGAIN_LATER, "storage unavailable, reconnect")
                return
            trim(conn.ws)  # most connections now wait, silent, for a long time
            await self._read_loop(conn)
        finally:
            self.s.hub.remove(conn)
            await conn.wait_closed()
            conn.stop_writer()

    async def _handshake(
        self, request: Request, ws: WebsocketImplProtocol, kind: TokenKind
    ) -> Connection | None:
        """Read and check ``hello``; the registered connection, or None once refused."""
        settings = self.s.settings
        hello = await self._read_hello(ws)
        if hello is None:
            await _close(ws, CloseCode.HELLO_TIMEOUT, "hello expected")
            return None
        expires_at: int | None = None  # bridge tokens do not expire: they are revoked
        try:
            if kind == "agent" and is_bridge_token(hello.get("token")):
                actor = await self.s.store.run(bridge_actor, hello.get("token"))
            else:
                claims = self.s.signer.verify(hello.get("token"), kind)
                expires_at = claims.expires_at
                loader = visitor_actor if kind == "visitor" else agent_actor
                actor = await self.s.store.run(loader, claims)
            actor = with_client(actor, request)  # the audit records the client's user agent
            limits = (await self.s.store.run(tenant_settings, actor.tenant_id)).limits
        except SteadyError as err:
            # The error says how to close: a bad token is final (its reason is the
            # client's to read), anything else is storage trouble (come back later).
            reason = err.message if err.close_code.final else "storage unavailable"
            await _close(ws, err.close_code, reason)
            return None
        origin = request.headers.get("origin")
        if (
            actor.is_visitor
            and origin is not None
            and not await self.s.store.run(visitor_origin_allowed, actor, origin)
        ):
            await _close(ws, CloseCode.ORIGIN_NOT_ALLOWED, "origin not allowed")
            return None
        if not self.s.accepting:  # shutdown began while this handshake waited
            await _close(ws, CloseCode.SERVICE_RESTART, "server restarting")
            return None
        # The tenant's own send rate (admin settings) replaces the node default; in SaaS
        # mode the node's rate is the operator's ceiling, so a tenant may only lower it.
        node_rate = settings.ws_rate_visitor if actor.is_visitor else settings.ws_rate_agent
        rate = (limits.ws_rate_visitor if actor.is_visitor else limits.ws_rate_agent) or node_rate
        if settings.mode is DeploymentMode.SAAS:
            rate = min(rate, node_rate)
        queue_frames = settings.send_queue_frames
        queue_bytes = settings.ws_send_buffer_bytes
        if actor.is_bridge:  # one connection speaks for, and follows as much as, a whole team
            rate = settings.ws_rate_bridge
            queue_frames *= BRIDGE_QUEUE_FACTOR
            queue_bytes *= BRIDGE_QUEUE_FACTOR
        window = settings.ws_rate_window_secs
        visitor = actor.is_visitor
        conn = Connection(
            ws,
            actor,
            queue_frames=queue_frames,
            send_rate=SlidingWindow(rate, window),
            bad_frames=SlidingWindow(settings.bad_frames_per_minute, BAD_FRAME_WINDOW_SECS),
            sync_rate=SlidingWindow(
                settings.ws_sync_rate_visitor if visitor else settings.ws_sync_rate_agent, window
            ),
            signal_rate=SlidingWindow(
                settings.ws_signal_rate_visitor if visitor else settings.ws_signal_rate_agent,
                window,
            ),
            queue_bytes=queue_bytes,
            node_budget=self.send_budget,
        )
        if limits.body_max_chars and limits.body_max_chars < settings.body_max_chars:
            conn.body_max_chars = limits.body_max_chars
        if actor.is_bridge:
            self.bridges.attach(conn, client_ip(request, settings))
        conn.start()
        if expires_at is not None:
            conn.expire_at(expires_at)
        self.s.hub.add(conn)
        self._hellos[conn] = hello
        return conn

    async def _read_hello(self, ws: WebsocketImplProtocol) -> dict[str, Any] | None:
        try:
            raw = await ws.recv(timeout=self.s.settings.hello_timeout_secs)
        except Exception:
            return None
        frame = _parse(raw)
        if frame is None or frame.get("type") != "hello":
            return None
        return frame

    async def _welcome(self, conn: Connection, hello: dict[str, Any]) -> None:
        actor, hub = conn.actor, self.s.hub
        if actor.is_bridge:
            await self.bridges.welcome(conn, hello, partial(self.welcome_frame, conn))
            return
        if actor.is_visitor:
            current = await self.s.chat.current_conversation(actor)
            you: dict[str, Any] = {**actor.wire(), "conversation": current}
            hub.join(conn, topics.visitor(actor.id))
            if actor.site_id:
                hub.join(conn, topics.site(actor.site_id))  # closed if the site is deleted
        else:
            you = await self.s.store.run(agent_profile, actor)
            hub.join(conn, topics.agents(actor.tenant_id))
            hub.join(conn, topics.agent(actor.id))
        # Read before the welcome goes out: "live from the welcome on" must include what
        # the other side sends the moment it sees this client (read after, a message
        # committed in between would fall before the cursor and never be delivered).
        own = await self.s.store.run(own_conversations, actor)
        conn.push_json(self.welcome_frame(conn, you))
        resume = hello.get("resume") or {}
        if not isinstance(resume, dict):
            conn.error(ErrorCode.BAD_FRAME, "resume must map conversation ids to seqs")
            resume = {}
        for conv, last_seq in resume.items():
            if not _is_int64(last_seq):
                conn.error(ErrorCode.BAD_FRAME, "resume seqs must be 64-bit integers", conv=conv)
                continue
            try:
                ref = await access_conversation(self.s.chat.directory, actor, conv)
            except SteadyError as err:
                conn.error(err.code, err.message, conv=conv)
                continue
            hub.follow(conn, ref, last_seq)
        # Live from now on for conversations this participant is part of but did not name.
        for conv, last_seq in own:
            if conv not in conn.cursors:
                ref = await access_conversation(self.s.chat.directory, actor, conv)
                hub.follow(conn, ref, last_seq)
        if not actor.is_visitor:
            events = []
            for conv in await self.s.store.run(queued_conversations, actor.tenant_id):
                event = await self.s.store.run(queued_event, actor.tenant_id, conv)
                if event:
                    events.append(event)
            # One presence question for the whole queue (a stalled Redis costs its
            # timeout once, not once per queued conversation).
            await self.s.presence.annotate_queued_many(actor.tenant_id, events)
            roster = await hub.queue.rosters.read(actor.tenant_id)  # as the live queue
            offered: dict[str, str] = {}
            if roster is not None and roster.any_automatic and actor.role != Role.ADMIN.value:
                offered = await self.s.store.run(offers_held, actor.tenant_id)
            for event in events:
                if offered.get(event["conv"]) == actor.id:
                    hub.queue.given(event["conv"], actor.id)  # its offer's card
                if hub.queue.may_see(roster, conn, event):
                    conn.push_json(event)
            await hub.summaries.send_to(conn)

    def welcome_frame(self, conn: Connection, you: dict[str, Any]) -> dict[str, Any]:
        settings = self.s.settings
        return Welcome(conn.session, settings.node_name, settings.heartbeat_secs, you).to_wire()

    async def _read_loop(self, conn: Connection) -> None:
        ws = conn.ws
        allowed = VISITOR_FRAMES if conn.actor.is_visitor else AGENT_FRAMES
        kind = conn.kind
        lean = can_receive(ws)
        while not conn.closing:
            try:
                raw = await (receive(ws) if lean else ws.recv())
            except asyncio.CancelledError:
                raise
            except Exception:
                return
            if raw is None:
                return
            frame = _parse(raw)
            frame_type = frame.get("type") if frame is not None else None
            if frame is None or not isinstance(frame_type, str) or frame_type not in ALL_FRAMES:
                metrics.frames_in(kind, "bad").inc()
                await self._bad_frame(conn, "malformed JSON or unknown type")
                continue
            metrics.frames_in(kind, frame_type).inc()
            if frame_type not in allowed:
                who = "visitors" if frame_type in VISITOR_FRAMES else "agents"
                conn.error(ErrorCode.FORBIDDEN, f"{frame_type} is for {who} only", **_about(frame))
                continue
            try:
                if conn.bridge is not None:
                    await self.bridges.dispatch(conn, frame, self.handlers[frame_type])
                else:
                    await self.handlers[frame_type](conn, frame, conn.actor)
            except SteadyError as err:
                if err.code is ErrorCode.BAD_FRAME:
                    await self._bad_frame(conn, err.message, frame)
                else:
                    conn.error(err.code, err.message, extra=err.extra(), **_about(frame))
            except Exception:
                log.exception("frame %s failed", frame_type)
                conn.error(ErrorCode.INTERNAL, "internal error", **_about(frame))

    async def _bad_frame(
        self, conn: Connection, message: str, frame: dict[str, Any] | None = None
    ) -> None:
        conn.error(ErrorCode.BAD_FRAME, message, **_about(frame or {}))
        if not conn.bad_frames.allow():
            await conn.close(CloseCode.TOO_MANY_BAD_FRAMES, "too many bad frames")

    # -- frames ----------------------------------------------------------------------
    async def on_send(
        self, conn: Connection, frame: dict[str, Any], actor: Actor
    ) -> asyncio.Future[SendResult] | None:
        cid = frame.get("cid")
        if not conn.send_rate.allow():
            conn.error(
                ErrorCode.RATE_LIMITED, "too many messages, send again later", **_about(frame)
            )
            return None
        body, limit = frame.get("body"), conn.body_max_chars
        if limit is not None and isinstance(body, str) and len(body) > limit:
            conn.error(
                ErrorCode.BODY_TOO_LONG, f"body is longer than {limit} characters", **_about(frame)
            )
            return None
        started = time.perf_counter()
        future = self.s.chat.send(
            actor,
            frame.get("conv"),
            cid,
            frame.get("body"),
            frame.get("kind"),
            frame.get("attachments"),
        )
        future.add_done_callback(partial(self._sent, conn, frame, started))
        return future

    def _sent(
        self,
        conn: Connection,
        frame: dict[str, Any],
        started: float,
        future: asyncio.Future[SendResult],
    ) -> None:
        if future.cancelled():
            conn.error(ErrorCode.UNAVAILABLE, "not stored, send again", **_about(frame))
            return
        err = future.exception()
        if err is not None:
            if isinstance(err, SteadyError):
                conn.error(err.code, err.message, extra=err.extra(), **_about(frame))
            else:
                log.error("send failed", exc_info=err)
                conn.error(ErrorCode.INTERNAL, "not stored, send again", **_about(frame))
            return
        result = future.result()
        metrics.ACK_LATENCY.observe(time.perf_counter() - started)
        if not result.duplicate:
            metrics.messages_in(result.message.sender_type).inc()
        conn.push_json(result.ack())
        message = result.message
        if conn.bridge is not None:
            # A bridge mirrors whole conversations: one it did not follow yet (a race with
            # its scope's events) is followed as its scope's conversations are.
            if not self.s.hub.follows(conn, message.conv):
                self.s.hub.bridges.follow_in_scope(conn, message.conv)
        elif not self.s.hub.follows(conn, message.conv):
            ref = self.s.chat.directory.cached(message.conv)
            if ref is not None:
                self.s.hub.follow(conn, ref, message.seq - 1)

    async def on_sync(self, conn: Connection, frame: dict[str, Any], actor: Actor) -> None:
        if not conn.sync_rate.allow():
            conn.error(ErrorCode.RATE_LIMITED, "too many syncs, sync again later", **_about(frame))
            return
        ref, messages, has_more = await self.s.chat.history(
            actor, frame.get("conv"), frame.get("after"), frame.get("limit")
        )
        conn.push(batch_frame(ref.id, messages, has_more, self.s.chat.frame_for, actor))

    async def on_typing(self, conn: Connection, frame: dict[str, Any], actor: Actor) -> None:
        if not conn.signal_rate.allow():
            conn.error(ErrorCode.RATE_LIMITED, "too many frames, slow down", **_about(frame))
            return
        await self.s.chat.typing(actor, frame.get("conv"), frame.get("on"))

    async def on_read(self, conn: Connection, frame: dict[str, Any], actor: Actor) -> None:
        if not conn.signal_rate.allow():
            conn.error(ErrorCode.RATE_LIMITED, "too many frames, slow down", **_about(frame))
            return
        await self.s.chat.mark_read(actor, frame.get("conv"), frame.get("seq"))

    async def on_ping(self, conn: Connection, frame: dict[str, Any], actor: Actor) -> None:
        conn.push(PONG)

    async def on_close(self, conn: Connection, frame: dict[str, Any], actor: Actor) -> None:
        event, closed_now = await self.s.chat.close(actor, frame.get("conv"))
        if not closed_now:
            conn.push_json(event)  # already closed: still answer the one who asked

    async def on_rate(self, conn: Connection, frame: dict[str, Any], actor: Actor) -> None:
        event = await self.s.chat.ratings.rate(
            actor, frame.get("conv"), frame.get("rating"), frame.get("comment")
        )
        if not self.s.hub.follows(conn, event["conv"]):
            conn.push_json(event)  # not following it: the bus will not bring it here

    async def on_accept(self, conn: Connection, frame: dict[str, Any], actor: Actor) -> None:
        await self.s.routing.accept(actor, frame.get("conv"))

    async def on_transfer(self, conn: Connection, frame: dict[str, Any], actor: Actor) -> None:
        if actor.type is SenderType.AI:  # the robot hands off, with a reason
            await self.s.routing.robots.by_robot(
                actor,
                frame.get("conv"),
                frame.get("to_department"),
                frame.get("to_queue"),
                frame.get("reason"),
            )
            return
        await self.s.routing.transfer(
            actor,
            frame.get("conv"),
            frame.get("to_agent"),
            frame.get("to_department"),
            frame.get("note"),
        )

    async def on_handoff(self, conn: Connection, frame: dict[str, Any], actor: Actor) -> None:
        """The visitor asks for a person (the widget's button): works without the robot."""
        await self.s.routing.robots.by_visitor(actor, frame.get("conv"))

    async def on_status(self, conn: Connection, frame: dict[str, Any], actor: Actor) -> None:
        await self.s.routing.set_status(actor, frame.get("state"))


def _parse(raw: str | bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        frame = orjson.loads(raw)
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        return None
    return frame if isinstance(frame, dict) else None


def _is_int64(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and in_int64(value)


def _about(frame: dict[str, Any]) -> dict[str, Any]:
    return {"cid": frame.get("cid"), "conv": frame.get("conv")}


async def _close(ws: WebsocketImplProtocol, code: int, reason: str) -> None:
    metrics.CLOSES.labels(str(code)).inc()
    try:
        await asyncio.wait_for(ws.close(code, reason), 2.0)
    except Exception:
        ws.fail_connection(code, reason)


__all__ = ["Forbidden", "Gateway", "dumps"]
