"""The hub's side of bridge connections: the tenant's events filtered by the bridge's
scope, and the conversations it follows (``server/chat/bridge_feed.py`` decides)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from server.chat.bridge_feed import Verdict
from server.chat.bridge_follow import bridge_conversations
from server.chat.directory import department_of
from server.errors import SteadyError
from server.gateway.connection import Connection

if TYPE_CHECKING:
    from server.gateway.hub import Hub

log = logging.getLogger(__name__)

VISITOR_PRESENCE = "visitor.presence"


class BridgeDelivery:
    def __init__(self, hub: Hub):
        self.hub = hub

    def on_tenant_event(self, conn: Connection, payload: dict[str, Any], frame: bytes) -> None:
        feed = conn.bridge
        assert feed is not None
        if not feed.ready:  # the welcome goes first; it replays these after
            feed.early.append((payload, frame))
            return
        if payload.get("name") == VISITOR_PRESENCE and not feed.whole_tenant:
            # Names a visitor, not a conversation: only those of conversations it follows.
            visitor = ((payload.get("data") or {}).get("visitor") or {}).get("id")
            if any(ref.visitor_id == visitor for ref in conn.refs.values()):
                conn.push(frame)
            return
        conv = payload.get("conv")
        if isinstance(conv, str) and conv in feed.waiting:
            feed.waiting[conv].append((payload, frame))  # behind a department lookup
            return
        verdict = feed.decide(payload, self.hub.follows(conn, conv or ""))
        if verdict.lookup and isinstance(conv, str):
            feed.waiting[conv] = [(payload, frame)]
            self.hub._spawn(self._look_up(conn, conv))
            return
        self._apply(conn, conv, verdict, frame)

    async def _look_up(self, conn: Connection, conv: str) -> None:
        feed = conn.bridge
        assert feed is not None
        try:
            found, department = await self.hub.chat.store.run(
                department_of, conn.actor.tenant_id, conv
            )
        except SteadyError as err:  # cannot tell the scope: nothing of it is delivered
            log.warning("bridge scope of %s unknown: %s", conv, err.message)
            feed.waiting.pop(conv, None)
            return
        if found:
            feed.learn(conv, department)
        for payload, frame in feed.waiting.pop(conv, []):
            verdict = feed.decide(payload, self.hub.follows(conn, conv))
            if not verdict.lookup:
                self._apply(conn, conv, verdict, frame)

    def _apply(self, conn: Connection, conv: object, verdict: Verdict, frame: bytes) -> None:
        if verdict.deliver:
            conn.push(frame)
        if not isinstance(conv, str):
            return
        if verdict.follow:
            self.follow_in_scope(conn, conv)
        elif verdict.finish:
            self.finish(conn, conv)
        elif verdict.unfollow:
            self.unfollow(conn, conv)

    def follow_in_scope(self, conn: Connection, conv: str) -> None:
        """Follow a conversation of the bridge's scope: from its start, or from where this
        connection left it (one connection never gets a seq twice)."""
        feed = conn.bridge
        assert feed is not None
        pos = feed.left.pop(conv, 0)
        ref = self.hub.chat.directory.cached(conv)
        if ref is not None:
            self.hub.follow(conn, ref, pos)
        else:
            self.hub._spawn(self.hub._follow_later(conn, conv, pos))

    def unfollow(self, conn: Connection, conv: str) -> None:
        cursor = conn.cursors.get(conv)
        if cursor is not None and conn.bridge is not None:
            conn.bridge.remember_left(conv, cursor.pos)
        self.hub.unfollow(conn, conv)

    async def follow_missed(self, conn: Connection) -> None:
        """After the bus may have dropped events: follow the open conversations of the
        bridge's scope that it does not follow yet (a ``conv.queued`` lost in an outage)."""
        feed = conn.bridge
        if feed is None or not feed.ready or conn.closing:
            return
        try:
            open_ones, _ = await self.hub.chat.store.run(
                bridge_conversations, conn.actor.tenant_id, []
            )
        except SteadyError as err:
            log.warning("bridge resync failed: %s", err.message)
            return
        for item in open_ones:
            feed.learn(item.ref.id, item.department)
            if feed.in_scope(item.department) and not self.hub.follows(conn, item.ref.id):
                self.hub.chat.directory.remember(item.ref)
                self.follow_in_scope(conn, item.ref.id)

    def finish(self, conn: Connection, conv: str) -> None:
        """A closed conversation: read what is left of it, then stop following it (nothing
        can be stored in it after the close that announced this)."""
        feed, cursor = conn.bridge, conn.cursors.get(conv)
        if feed is None or cursor is None:
            return
        feed.finishing.add(conv)
        if not cursor.fetching:  # else the replay under way ends with ``finished``
            cursor.fetching = True
            self.hub._spawn(self.hub._catch_up(conn, conn.refs[conv], cursor))

    def finished(self, conn: Connection, conv: str) -> None:
        if conn.bridge is not None:
            conn.bridge.finishing.discard(conv)
        self.unfollow(conn, conv)
