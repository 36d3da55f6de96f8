"""This node's connections and what each follows: the bus-to-socket fan-out.

The hub subscribes a topic on the bus while at least one local connection needs it, so
with a shared bus a node only receives the traffic of the people it serves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sanic.server.websockets.impl import WebsocketImplProtocol

from server.bus import Bus, Payload
from server.chat.delivery import Offer, StreamCursor
from server.chat.pages import AGENT_ONLY_EVENTS
from server.chat.queries import queued_event
from server.chat.records import StoredMessage
from server.chat.robots import is_robot
from server.chat.service import ChatService
from server.errors import CloseCode, SteadyError
from server.gateway.connection import Connection, dumps
from server.gateway.hub_bridges import BridgeDelivery
from server.gateway.queue_fanout import MISSING, QueueFanout, Rosters
from server.gateway.queue_summary import QueueSummaries
from server.kernel import topics
from server.kernel.actors import ConversationRef
from server.observability import metrics
from server.routing.presence import Presence

log = logging.getLogger(__name__)

CATCH_UP_PAGE = 500


class Hub:
    def __init__(self, bus: Bus, chat: ChatService, presence: Presence):
        self.bus = bus
        self.chat = chat
        self.presence = presence
        self.connections: set[Connection] = set()
        self.handshaking: set[WebsocketImplProtocol] = set()
        self._by_topic: dict[str, set[Connection]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        bus.on_resync(self.resync)
        bus.on_subscribed(self._subscribed)
        self._handlers: dict[str, Callable[[str, Payload], None]] = {
            "conv": self._on_conversation,
            "agents": self._on_agents,
            "visitor": self._on_visitor,
            "agent": self._on_agent,
            "bridge": self._on_bridge,
            "site": self._on_site,
            "monitor": self._on_monitor,
        }
        self.bridges = BridgeDelivery(self)
        rosters = Rosters(chat.store, self._spawn)
        self.queue = QueueFanout(rosters)
        self.summaries = QueueSummaries(
            chat.store, rosters, lambda t: self._by_topic.get(topics.agents(t), ()), self._spawn
        )

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # a task nobody references can be collected mid-flight
        task.add_done_callback(self._tasks.discard)

    # -- membership ----------------------------------------------------------------
    def add(self, conn: Connection) -> None:
        self.connections.add(conn)
        metrics.WS_CONNECTIONS.labels(conn.kind).inc()
        # A bridge is not a person: no presence, except the AI robot's (who holds chats).
        if conn.bridge is None or is_robot(conn.actor):
            self.presence.arrive(conn.actor)

    def remove(self, conn: Connection) -> None:
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        metrics.WS_CONNECTIONS.labels(conn.kind).dec()
        self.summaries.forget(conn)
        if conn.bridge is None or is_robot(conn.actor):
            self.presence.leave(conn.actor)
        for topic in list(conn.topics):
            self._leave(conn, topic)

    def join(self, conn: Connection, topic: str) -> None:
        if topic in conn.topics:
            return
        conn.topics.add(topic)
        members = self._by_topic.get(topic)
        if members is None:
            members = self._by_topic[topic] = set()
            self.bus.subscribe(topic, self._dispatch)
        members.add(conn)

    def leave(self, conn: Connection, topic: str) -> None:
        self._leave(conn, topic)

    def _leave(self, conn: Connection, topic: str) -> None:
        conn.topics.discard(topic)
        members = self._by_topic.get(topic)
        if members is None:
            return
        members.discard(conn)
        if not members:
            del self._by_topic[topic]
            self.bus.unsubscribe(topic, self._dispatch)

    def follow(
        self, conn: Connection, ref: ConversationRef, pos: int, *, catch_up: bool = True
    ) -> None:
        """Deliver the conversation to ``conn`` from ``pos`` on: replay, then live. Without
        ``catch_up`` live traffic is held until the caller runs ``catch_up`` itself."""
        if ref.id in conn.cursors or conn.closing:
            return
        cursor = StreamCursor(max(pos, 0))
        cursor.fetching = True  # hold live traffic until the database has been read
        conn.cursors[ref.id] = cursor
        conn.refs[ref.id] = ref
        self.join(conn, topics.conversation(ref.id))
        if catch_up:
            self._spawn(self._catch_up(conn, ref, cursor))

    async def catch_up(self, conn: Connection, conv: str) -> None:
        """Run the replay of a conversation followed with ``catch_up=False``."""
        cursor, ref = conn.cursors.get(conv), conn.refs.get(conv)
        if cursor is not None and ref is not None:
            await self._catch_up(conn, ref, cursor)

    def unfollow(self, conn: Connection, conv: str) -> None:
        if conn.cursors.pop(conv, None) is not None:
            conn.refs.pop(conv, None)
            self._leave(conn, topics.conversation(conv))

    def follows(self, conn: Connection, conv: str) -> bool:
        return conv in conn.cursors

    # -- delivery --------------------------------------------------------------------
    def _dispatch(self, topic: str, payload: Payload) -> None:
        handler = self._handlers.get(topic.split(":", 1)[0])
        if handler:
            handler(topic, payload)

    def _on_conversation(self, topic: str, payload: Payload) -> None:
        members = self._by_topic.get(topic)
        if not members:
            return
        kind = payload.get("type")
        if kind == "message":
            message: StoredMessage = payload["message"]
            for conn in tuple(members):
                self._offer(conn, message)
        elif kind in ("typing", "read"):
            sender = payload.get("sender") or {}
            frame = dumps(payload)
            for conn in members:
                if conn.actor.id != sender.get("id") or conn.kind != sender.get("type"):
                    conn.push(frame)
        elif kind == "event":
            # Agents get conversation events from their tenant topic; here only visitors,
            # except the agent-only ones (a visitor never sees its own context).
            for_agents = payload.get("name") in AGENT_ONLY_EVENTS
            frame = dumps(payload)
            for conn in members:
                if conn.actor.is_visitor is not for_agents:
                    conn.push(frame)

    def _offer(self, conn: Connection, message: StoredMessage) -> None:
        cursor = conn.cursors.get(message.conv)
        if cursor is None:
            return
        outcome = cursor.offer(message)
        if outcome is Offer.SEND:
            self._send_message(conn, message)
        elif outcome is Offer.GAP:
            ref = conn.refs[message.conv]
            self._spawn(self._catch_up(conn, ref, cursor))

    def _send_message(self, conn: Connection, message: StoredMessage) -> None:
        if message.is_note and conn.actor.is_visitor:
            return
        metrics.MESSAGES_OUT.inc()
        conn.push(self.chat.frame_for(message, conn.actor))

    async def _catch_up(self, conn: Connection, ref: ConversationRef, cursor: StreamCursor) -> None:
        """Fill the gap after ``cursor.pos`` from the database, then release held messages."""
        try:
            while not conn.closing:
                rows = await self.chat.messages_after(ref, cursor.pos, CATCH_UP_PAGE, True)
                await self._send_paced(conn, cursor, cursor.accept_fetched(rows))
                if conn.closing or conn.cursors.get(ref.id) is not cursor:
                    return  # no longer followed (a bridge's conversation left its scope)
                if len(rows) == CATCH_UP_PAGE:
                    continue
                # Not paced: live messages go out directly once the cursor stops fetching.
                ready, again = cursor.drain_pending()
                for message in ready:
                    self._send_message(conn, message)
                if not again:
                    if conn.bridge is not None and ref.id in conn.bridge.finishing:
                        self.bridges.finished(conn, ref.id)
                    return
        except SteadyError as err:
            # Without the gap we cannot keep the order promise: the client resumes later.
            log.warning("catch-up of %s failed: %s", ref.id, err)
            conn.close_soon(CloseCode.TRY_AGAIN_LATER, "storage unavailable, resume")
        except Exception:
            log.exception("catch-up of %s failed", ref.id)
            conn.close_soon(CloseCode.INTERNAL_ERROR, "internal error, resume")

    async def _send_paced(
        self, conn: Connection, cursor: StreamCursor, messages: list[StoredMessage]
    ) -> None:
        """A replay's messages, a slice at a time while the send queue is at most half full:
        many replays at once (a bridge following a whole tenant) neither overflow it nor
        crowd out live traffic. Live traffic of the conversation is held meanwhile."""
        step = max(1, conn.queue_frames // 4)
        for start in range(0, len(messages), step):
            await conn.wait_for_room()
            if conn.closing or conn.cursors.get(messages[0].conv) is not cursor:
                return
            for message in messages[start : start + step]:
                self._send_message(conn, message)

    def _on_agents(self, topic: str, payload: Payload) -> None:
        members = self._by_topic.get(topic)
        if not members:
            return
        if self.summaries.changes_queue(payload):
            self.summaries.changed(topic.split(":", 1)[1])
        if self.queue.holds(payload):  # to who may serve it, a batch at a time
            bridges = [conn for conn in members if conn.bridge is not None]
            if bridges:
                frame = dumps(payload)
                for conn in bridges:
                    self.bridges.on_tenant_event(conn, payload, frame)
            self.queue.hold(topic, payload, lambda: self._by_topic.get(topic, ()))
            return
        self.queue.flush()  # no assignment or close may overtake the card it is about
        self.queue.left_queue(payload)
        frame = dumps(payload)
        assigned = self._assignee(payload)
        for conn in tuple(members):
            if conn.bridge is not None:
                self.bridges.on_tenant_event(conn, payload, frame)
                continue
            conn.push(frame)
            if assigned and conn.actor.id == assigned[0]:
                ref = self.chat.directory.cached(payload["conv"])
                if ref is not None:
                    self.follow(conn, ref, assigned[1])
                else:
                    self._spawn(self._follow_later(conn, payload["conv"], assigned[1]))

    @staticmethod
    def _assignee(payload: Payload) -> tuple[str, int] | None:
        if payload.get("name") != "conv.assigned":
            return None
        data: dict[str, Any] = payload.get("data") or {}
        agent = data.get("agent") or {}
        return (agent.get("id", ""), int(data.get("last_seq", 0)))

    async def _follow_later(self, conn: Connection, conv: str, pos: int) -> None:
        ref = await self.chat.directory.lookup(conv)
        if ref is not None and ref.tenant_id == conn.actor.tenant_id:
            self.follow(conn, ref, pos)

    def _on_visitor(self, topic: str, payload: Payload) -> None:
        if payload.get("name") != "conv.opened":
            return
        for conn in tuple(self._by_topic.get(topic, ())):
            conn.push(dumps(payload))
            self._spawn(self._follow_later(conn, payload["conv"], 0))

    def _on_agent(self, topic: str, payload: Payload) -> None:
        if payload.get("name") == "agent.revoked":
            for conn in tuple(self._by_topic.get(topic, ())):
                conn.close_soon(CloseCode.BAD_TOKEN, "token revoked")
        elif payload.get("type") == "event":  # for this agent only: conv.offered, conv.rated
            self.queue.flush()  # the offered card first
            conns = tuple(self._by_topic.get(topic, ()))
            card = None
            if payload.get("name") == "conv.offered" and conns:
                card = self.queue.card_for_offer(conns[0].actor, payload)
                if card is MISSING:  # announced before this node listened: read it
                    self._spawn(self._offer_with_card(conns, payload))
                    return
            frame = dumps(payload)
            for conn in conns:
                if card:
                    conn.push(card)
                conn.push(frame)

    async def _offer_with_card(self, conns: tuple[Connection, ...], offer: Payload) -> None:
        """``conv.offered`` after its card, the card read from the database."""
        tenant_id = conns[0].actor.tenant_id
        try:
            card = await self.chat.store.run(queued_event, tenant_id, offer["conv"])
            await self.presence.annotate_queued(tenant_id, card)
        except SteadyError as err:
            log.warning("could not read the card of offered %s: %s", offer.get("conv"), err)
            card = None
        frame = dumps(offer)
        for conn in conns:
            if card is not None:
                conn.push_json(card)
            conn.push(frame)

    def _on_bridge(self, topic: str, payload: Payload) -> None:
        if payload.get("name") == "bridge.revoked":
            for conn in tuple(self._by_topic.get(topic, ())):
                conn.close_soon(CloseCode.BAD_TOKEN, "bridge revoked")

    def _on_site(self, topic: str, payload: Payload) -> None:
        if payload.get("name") == "site.deleted":
            for conn in tuple(self._by_topic.get(topic, ())):
                conn.close_soon(CloseCode.BAD_TOKEN, "site deleted")

    def _on_monitor(self, topic: str, payload: Payload) -> None:
        """The live monitor's feed: to the admins who asked for it (server/gateway/ws_monitor)."""
        frame = dumps(payload)
        for conn in tuple(self._by_topic.get(topic, ())):
            conn.push(frame)

    def _subscribed(self, topic: str) -> None:
        """A conversation's subscription took effect: re-read what it may have missed."""
        if topic.startswith("conv:"):
            for conn in tuple(self._by_topic.get(topic, ())):
                self._resync_conversation(conn, topic[len("conv:") :])

    def _resync_conversation(self, conn: Connection, conv: str) -> None:
        cursor = conn.cursors.get(conv)
        if cursor is not None and not cursor.fetching:
            cursor.fetching = True
            self._spawn(self._catch_up(conn, conn.refs[conv], cursor))

    def resync(self) -> None:
        """The bus may have dropped publications: re-read every followed conversation."""
        for conn in tuple(self.connections):
            for conv in tuple(conn.cursors):
                self._resync_conversation(conn, conv)
            if conn.bridge is not None:  # it may have missed a new conversation's event too
                self._spawn(self.bridges.follow_missed(conn))

    # -- shutdown --------------------------------------------------------------------
    async def close_all(self, code: int, reason: str, within_secs: float = 3.0) -> None:
        """Close every socket with ``code``, including handshakes that finish meanwhile
        (an upgrade already past the door when shutdown began arrives a moment later)."""
        deadline = asyncio.get_running_loop().time() + within_secs
        done: set[object] = set()
        while asyncio.get_running_loop().time() < deadline:
            closing = [c.close(code, reason) for c in self.connections if c not in done]
            closing += [
                _close_socket(ws, code, reason) for ws in self.handshaking if ws not in done
            ]
            done.update(self.connections, self.handshaking)
            if closing:
                await asyncio.gather(*closing, return_exceptions=True)
            elif not self.connections and not self.handshaking:
                return
            await asyncio.sleep(0.05)


async def _close_socket(ws: WebsocketImplProtocol, code: int, reason: str) -> None:
    try:
        await asyncio.wait_for(ws.close(code, reason), 2.0)
    except Exception:
        ws.fail_connection(code, reason)
