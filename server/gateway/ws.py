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
from server.kernel import topics
from server.kernel.actors import Actor
from server.kernel.enums import Role, SenderType
from server.observability import metrics
from server.routing.roster import offers_held
from server.security.ratelimit import SlidingWindow
from server.security.tokens import TokenKind
from steadywire import client_frames as cf
from steadywire.errors import BadFrame, NotAccepted, UnknownFrameType
from steadywire.parse import dumps as dump_frame
from steadywire.parse import read_client_frame
from steadywire.server_frames import Pong, Welcome

log = logging.getLogger(__name__)

BAD_FRAME_WINDOW_SECS = 60.0
PONG = dump_frame(Pong())  # the same bytes for every ping
# A frame handler gets the typed frame (steadywire, parsed once in ``_read_loop``) and
# acts as ``actor``: the connection's own, or for a bridge the agent it names in ``as``
# (server/gateway/ws_bridges.py). ``Any``: each handler takes its own frame class.
Handler = Callable[[Connection, Any, Actor], Awaitable[object]]

COMMON_FRAMES = frozenset({"send", "sync", "typing", "read", "ping", "close"})
VISITOR_FRAMES = COMMON_FRAMES | {"page", "rate", "handoff"}
AGENT_FRAMES = COMMON_FRAMES | {"accept", "transfer", "status", "monitor"}
ALL_FRAMES = AGENT_FRAMES | VISITOR_FRAMES  # ``hello`` is the handshake's only
MALFORMED = "malformed JSON or unknown type"


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
        self._hellos: dict[Connection, tuple[cf.Hello, list[cf.ResumeRefused]]] = {}
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
                await self._welcome(conn, *self._hellos.pop(conn))
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
        read = await self._read_hello(ws)
        if read is None:
            await _close(ws, CloseCode.HELLO_TIMEOUT, "hello expected")
            return None
        hello = read[0]
        expires_at: int | None = None  # bridge tokens do not expire: they are revoked
        try:
            if kind == "agent" and is_bridge_token(hello.token):
                actor = await self.s.store.run(bridge_actor, hello.token)
            else:
                claims = self.s.signer.verify(hello.token, kind)
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
        self._hellos[conn] = read
        return conn

    async def _read_hello(
        self, ws: WebsocketImplProtocol
    ) -> tuple[cf.Hello, list[cf.ResumeRefused]] | None:
        try:
            raw = await ws.recv(timeout=self.s.settings.hello_timeout_secs)
        except Exception:
            return None
        hello = _parse(raw)
        if hello is None or hello.get("type") != cf.Hello.type:
            return None
        # Leniently: a bad ``resume`` entry is answered after the welcome (``_welcome``),
        # a bad token by the token check; neither refuses the frame here.
        return cf.Hello.read(hello)

    async def _welcome(
        self, conn: Connection, hello: cf.Hello, refused: list[cf.ResumeRefused]
    ) -> None:
        actor, hub = conn.actor, self.s.hub
        if actor.is_bridge:
            await self.bridges.welcome(conn, hello, refused, partial(self.welcome_frame, conn))
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
        for refusal in refused:
            conn.error(ErrorCode.BAD_FRAME, refusal.message, conv=refusal.conv)
        for conv, last_seq in hello.resume.items():
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
            try:
                frame, cid, conv = read_client_frame(raw, allowed)
            except BadFrame as err:
                await self._refuse(conn, err)
                continue
            frame_type = frame.type
            metrics.frames_in(kind, frame_type).inc()
            try:
                if conn.bridge is not None:
                    await self.bridges.dispatch(conn, frame, self.handlers[frame_type])
                else:
                    await self.handlers[frame_type](conn, frame, conn.actor)
            except SteadyError as err:
                if err.code is ErrorCode.BAD_FRAME:
                    await self._bad_frame(conn, err.message, cid=cid, conv=conv)
                else:
                    conn.error(err.code, err.message, extra=err.extra(), cid=cid, conv=conv)
            except Exception:
                log.exception("frame %s failed", frame_type)
                conn.error(ErrorCode.INTERNAL, "internal error", cid=cid, conv=conv)

    async def _refuse(self, conn: Connection, err: BadFrame) -> None:
        """A frame steadywire would not read: of another role (``forbidden``), a valid
        frame with a value answered ``bad_request``, or a bad frame (counted)."""
        frame_type = err.frame_type
        if isinstance(err, UnknownFrameType) or frame_type not in ALL_FRAMES:
            metrics.frames_in(conn.kind, "bad").inc()
            await self._bad_frame(conn, MALFORMED)
            return
        metrics.frames_in(conn.kind, frame_type).inc()
        if isinstance(err, NotAccepted):
            who = "visitors" if frame_type in VISITOR_FRAMES else "agents"
            conn.error(
                ErrorCode.FORBIDDEN, f"{frame_type} is for {who} only", cid=err.cid, conv=err.conv
            )
        elif err.code is not ErrorCode.BAD_FRAME:
            conn.error(err.code, err.message, cid=err.cid, conv=err.conv)
        else:
            await self._bad_frame(conn, err.message, cid=err.cid, conv=err.conv)

    async def _bad_frame(
        self, conn: Connection, message: str, *, cid: object = None, conv: object = None
    ) -> None:
        conn.error(ErrorCode.BAD_FRAME, message, cid=cid, conv=conv)
        if not conn.bad_frames.allow():
            await conn.close(CloseCode.TOO_MANY_BAD_FRAMES, "too many bad frames")

    # -- frames ----------------------------------------------------------------------
    async def on_send(
        self, conn: Connection, frame: cf.Send, actor: Actor
    ) -> asyncio.Future[SendResult] | None:
        if not conn.send_rate.allow():
            conn.error(
                ErrorCode.RATE_LIMITED, "too many messages, send again later", **_about(frame)
            )
            return None
        body, limit = frame.body, conn.body_max_chars
        if limit is not None and len(body) > limit:
            conn.error(
                ErrorCode.BODY_TOO_LONG, f"body is longer than {limit} characters", **_about(frame)
            )
            return None
        started = time.perf_counter()
        future = self.s.chat.send(
            actor,
            frame.conv,
            frame.cid,
            body,
            frame.kind.value,
            list(frame.attachments) if frame.attachments else None,
        )
        future.add_done_callback(partial(self._sent, conn, frame, started))
        return future

    def _sent(
        self,
        conn: Connection,
        frame: cf.Send,
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

    async def on_sync(self, conn: Connection, frame: cf.Sync, actor: Actor) -> None:
        if not conn.sync_rate.allow():
            conn.error(ErrorCode.RATE_LIMITED, "too many syncs, sync again later", **_about(frame))
            return
        ref, messages, has_more = await self.s.chat.history(
            actor, frame.conv, frame.after, frame.limit
        )
        conn.push(batch_frame(ref.id, messages, has_more, self.s.chat.frame_for, actor))

    async def on_typing(self, conn: Connection, frame: cf.Typing, actor: Actor) -> None:
        if not conn.signal_rate.allow():
            conn.error(ErrorCode.RATE_LIMITED, "too many frames, slow down", **_about(frame))
            return
        await self.s.chat.typing(actor, frame.conv, frame.on)

    async def on_read(self, conn: Connection, frame: cf.Read, actor: Actor) -> None:
        if not conn.signal_rate.allow():
            conn.error(ErrorCode.RATE_LIMITED, "too many frames, slow down", **_about(frame))
            return
        await self.s.chat.mark_read(actor, frame.conv, frame.seq)

    async def on_ping(self, conn: Connection, frame: cf.Ping, actor: Actor) -> None:
        conn.push(PONG)

    async def on_close(self, conn: Connection, frame: cf.Close, actor: Actor) -> None:
        event, closed_now = await self.s.chat.close(actor, frame.conv)
        if not closed_now:
            conn.push_json(event)  # already closed: still answer the one who asked

    async def on_rate(self, conn: Connection, frame: cf.Rate, actor: Actor) -> None:
        event = await self.s.chat.ratings.rate(actor, frame.conv, frame.rating, frame.comment)
        if not self.s.hub.follows(conn, event["conv"]):
            conn.push_json(event)  # not following it: the bus will not bring it here

    async def on_accept(self, conn: Connection, frame: cf.Accept, actor: Actor) -> None:
        await self.s.routing.accept(actor, frame.conv)

    async def on_transfer(self, conn: Connection, frame: cf.Transfer, actor: Actor) -> None:
        if actor.type is SenderType.AI:  # the robot hands off, with a reason
            await self.s.routing.robots.by_robot(
                actor, frame.conv, frame.to_department, frame.to_queue, frame.reason
            )
            return
        await self.s.routing.transfer(
            actor, frame.conv, frame.to_agent, frame.to_department, frame.note
        )

    async def on_handoff(self, conn: Connection, frame: cf.Handoff, actor: Actor) -> None:
        """The visitor asks for a person (the widget's button): works without the robot."""
        await self.s.routing.robots.by_visitor(actor, frame.conv)

    async def on_status(self, conn: Connection, frame: cf.Status, actor: Actor) -> None:
        await self.s.routing.set_status(actor, frame.state.value)


def _parse(raw: str | bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        frame = orjson.loads(raw)
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        return None
    return frame if isinstance(frame, dict) else None


def _about(frame: cf.ClientFrame) -> dict[str, Any]:
    """What an error about ``frame`` echoes: its ``cid`` and ``conv`` where it has them."""
    return {"cid": getattr(frame, "cid", None), "conv": getattr(frame, "conv", None)}


async def _close(ws: WebsocketImplProtocol, code: int, reason: str) -> None:
    metrics.CLOSES.labels(str(code)).inc()
    try:
        await asyncio.wait_for(ws.close(code, reason), 2.0)
    except Exception:
        ws.fail_connection(code, reason)


__all__ = ["Forbidden", "Gateway", "dumps"]
