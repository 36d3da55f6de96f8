"""Bridge connections on ``/ws/agent`` (docs/bridges.md, BRIDGES.md §1).

* ``welcome``: a bridge follows every open conversation in its scope, from the seq its
  ``resume`` names or else from 0 (and closed ones it names, up to their end); it gets the
  waiting conversations' ``conv.queued`` first, then the replays, a few conversations at a
  time and paced by its send queue, while live traffic is held per conversation.
* ``dispatch``: ``send``, ``accept``, ``transfer``, ``close``, ``typing`` and ``read`` act as
  the agent named in ``as`` (linked, enabled, same tenant; the conversation in scope), else
  ``error forbidden``; ``sync`` and ``ping`` are the bridge's own; ``status`` is refused.
  An ``ai`` bridge (the AI robot) acts as itself instead (``_robot``): no ``as``, no
  ``accept``; it closes only what it holds (server/chat/robots.py).
  Accepts, transfers, closes and stored messages are audited as
  ``agent:<id> via bridge:<id>`` (the robot's as ``ai:<id>``), each by the transaction
  that does it.
* a watch on each node closes (4401) any of its bridge sockets whose bridge was revoked
  elsewhere (the CLI has no bus); ``DELETE /api/v1/bridges/{id}`` also tells every node
  through the bus at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from server.admin.bridges import acting_agent, bridge_profile, revoked_among
from server.chat.access import access_conversation
from server.chat.ai_rules import taken_over
from server.chat.bridge_feed import BridgeFeed
from server.chat.bridge_follow import bridge_conversations
from server.chat.queries import queued_conversations, queued_event
from server.chat.robots import ROBOT_FRAMES, held_by, is_robot, robot_actor
from server.errors import CloseCode, ErrorCode, Forbidden, SteadyError
from server.gateway.connection import Connection
from server.gateway.context import Services
from server.kernel import topics
from server.kernel.actors import Actor, ConversationRef
from steadywire import client_frames as cf
from steadywire.client_frames import ACTING_FRAMES, ClientFrame

log = logging.getLogger(__name__)

BRIDGE_QUEUE_FACTOR = 10  # a bridge's send queue: this many times an agent's
OWN_FRAMES = frozenset({"sync", "ping"})
CATCH_UP_AT_ONCE = 8  # replays of one bridge's welcome running together
WATCH_SECS = 0.5  # how often a node looks for revoked bridges among its sockets
_DENIED = "you have no access to this conversation"


class BridgeSessions:
    def __init__(self, services: Services):
        self.s = services
        self._watch: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def attach(self, conn: Connection, ip: str) -> None:
        conn.bridge = BridgeFeed(conn.actor.departments, ip)
        if self._watch is None or self._watch.done():
            self._watch = asyncio.get_running_loop().create_task(self._watch_revocations())

    # -- hello ------------------------------------------------------------------------
    async def welcome(
        self,
        conn: Connection,
        hello: cf.Hello,
        refused: list[cf.ResumeRefused],
        welcome_frame: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> None:
        actor, hub, store = conn.actor, self.s.hub, self.s.store
        feed = conn.bridge
        assert feed is not None
        hub.join(conn, topics.agents(actor.tenant_id))
        hub.join(conn, topics.bridge(actor.id))
        you = await store.run(bridge_profile, actor)
        positions = dict(hello.resume)
        open_ones, named = await store.run(bridge_conversations, actor.tenant_id, list(positions))
        queued = await self._queued_events(actor, feed)
        conn.push_json(welcome_frame(you))
        for refusal in refused:
            conn.error(ErrorCode.BAD_FRAME, refusal.message, conv=refusal.conv)
        plan: dict[str, tuple[ConversationRef, int]] = {}
        for item in open_ones:
            feed.learn(item.ref.id, item.department)
        for conv, pos in positions.items():
            found = named.get(conv)
            if found is None or not feed.in_scope(found.department):
                conn.error(ErrorCode.FORBIDDEN, _DENIED, conv=conv)
                continue
            plan[conv] = (found.ref, pos)
            if not found.open:
                feed.finishing.add(conv)  # read to its end, then let go
        for item in open_ones:
            if feed.in_scope(item.department) and item.ref.id not in plan:
                plan[item.ref.id] = (item.ref, 0)
        for event in queued:
            conn.push_json(event)
        for ref, pos in plan.values():
            self.s.chat.directory.remember(ref)
            hub.follow(conn, ref, pos, catch_up=False)
        feed.ready = True
        early, feed.early = feed.early, []
        for payload, frame in early:  # what the tenant did while this was being planned
            hub.bridges.on_tenant_event(conn, payload, frame)
        self._spawn(self._catch_up_all(conn, list(plan)))

    async def _queued_events(self, actor: Actor, feed: BridgeFeed) -> list[dict[str, Any]]:
        events = []
        for conv in await self.s.store.run(queued_conversations, actor.tenant_id):
            event = await self.s.store.run(queued_event, actor.tenant_id, conv)
            if event and feed.in_scope(event["data"].get("department")):
                events.append(event)
        await self.s.presence.annotate_queued_many(actor.tenant_id, events)
        return events

    async def _catch_up_all(self, conn: Connection, convs: list[str]) -> None:
        for start in range(0, len(convs), CATCH_UP_AT_ONCE):
            if conn.closing:
                return
            window = convs[start : start + CATCH_UP_AT_ONCE]
            await asyncio.gather(*(self.s.hub.catch_up(conn, conv) for conv in window))

    # -- frames -----------------------------------------------------------------------
    async def dispatch(self, conn: Connection, frame: ClientFrame, handler: Any) -> None:
        frame_type = frame.type
        if frame_type in OWN_FRAMES:
            await handler(conn, frame, conn.actor)
            return
        if is_robot(conn.actor):
            actor = await self._robot(conn, frame)
        elif frame_type not in ACTING_FRAMES:
            raise Forbidden(f"a bridge does not send {frame_type}: it acts only as its agents")
        else:
            actor = await self.s.store.run(acting_agent, conn.actor, _as_agent(frame))
        # Its action is audited by the transaction that does it (``Actor.audit_ip``): a
        # node killed in between cannot leave an action without its row.
        ip = conn.bridge.ip if conn.bridge is not None else ""
        await handler(conn, frame, replace(actor, audit_ip=ip))

    async def _robot(self, conn: Connection, frame: ClientFrame) -> Actor:
        """An ai bridge acts as itself: never ``as``, never ``accept``; it closes only a
        conversation it holds (a person's is theirs to close)."""
        frame_type = frame.type
        if _as_agent(frame) is not None:
            raise Forbidden("an ai bridge acts as itself: as is not allowed")
        if frame_type not in ROBOT_FRAMES:
            raise Forbidden(f"an ai bridge does not send {frame_type}")
        robot = robot_actor(conn.actor)
        if frame_type == "close":
            ref = await access_conversation(self.s.chat.directory, robot, _conv(frame))
            if not await self.s.store.run(held_by, ref, robot.id):
                raise taken_over()
        return robot

    # -- revocation --------------------------------------------------------------------
    async def _watch_revocations(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECS)
            bridges = [c for c in self.s.hub.connections if c.bridge is not None]
            if not bridges:
                return  # the next bridge to connect starts another watch
            try:
                revoked = await self.s.store.run(
                    revoked_among, sorted({c.actor.id for c in bridges})
                )
            except SteadyError:
                continue  # storage away: the next round looks again
            except Exception:
                log.exception("bridge watch failed")
                continue
            for conn in bridges:
                if conn.actor.id in revoked:
                    conn.close_soon(CloseCode.BAD_TOKEN, "bridge revoked")


def _as_agent(frame: ClientFrame) -> str | None:
    """The agent a bridge's acting frame names in ``as`` (None on the others)."""
    agent: str | None = getattr(frame, "as_agent", None)
    return agent


def _conv(frame: ClientFrame) -> str | None:
    conv: str | None = getattr(frame, "conv", None)
    return conv
