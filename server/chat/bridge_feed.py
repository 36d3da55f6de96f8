"""What a bridge connection gets of its tenant's conversation events (no I/O).

A bridge sees what an admin would, narrowed to its scope (its tenant, or some of its
departments), and follows every open conversation in that scope so that each message
and note reaches it live. This class decides, for one event of the tenant's agents
topic, whether the bridge gets it and how its following changes:

* in scope: delivered; a conversation not followed yet is followed from seq 0 (a new one
  from its ``conv.queued`` on, one transferred into the scope from its start); on
  ``conv.closed`` the conversation is finished (read to its end, then no longer followed);
* out of scope: dropped, except the ``conv.transferred`` that takes a followed
  conversation out of the scope, which is delivered and ends the following at once;
* events that name no conversation (``agent.status``, presence) are delivered;
* ``conv.labels`` is delivered in scope like the rest, but never starts a following: any
  agent may label an old, closed conversation, and that must not replay it to the bridge.

A scope of departments needs each conversation's department. Events that move a
conversation between departments carry it (``conv.queued``: ``data.department``;
``conv.transferred``: ``data.to_department.id``), and the welcome teaches those of the
open conversations; for any other conversation the caller looks the department up once
(``Verdict.lookup``), holding that conversation's events until it knows.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

QUEUED = "conv.queued"
TRANSFERRED = "conv.transferred"
CLOSED = "conv.closed"
NEVER_FOLLOWS = frozenset({"conv.labels"})  # says nothing of where the chat is
KNOWN_MAX = 50_000  # departments remembered per bridge connection


@dataclass(frozen=True, slots=True)
class Verdict:
    deliver: bool = False
    follow: bool = False  # from seq 0
    finish: bool = False  # read to the end, then stop following
    unfollow: bool = False  # stop following now
    lookup: bool = False  # department unknown: look it up, then decide again


DELIVER = Verdict(deliver=True)
DROP = Verdict()
LOOKUP = Verdict(lookup=True)
_MISSING = object()


def department_hint(payload: dict[str, Any]) -> object:
    """The department an event puts its conversation in, or ``_MISSING``."""
    data = payload.get("data") or {}
    name = payload.get("name")
    if name == QUEUED and "department" in data:
        return data.get("department")
    target = data.get("to_department") if name == TRANSFERRED else None
    if isinstance(target, dict):
        return target.get("id")
    return _MISSING


class BridgeFeed:
    def __init__(self, departments: frozenset[str] | None, ip: str = ""):
        self.departments = departments
        self.ip = ip  # the bridge's address, for the audit log
        self._known: OrderedDict[str, str | None] = OrderedDict()
        self.finishing: set[str] = set()
        # Until the welcome is out and has planned what to follow, events wait here.
        self.ready = False
        self.early: list[tuple[dict[str, Any], bytes]] = []
        # Events of a conversation whose department is being looked up, in arrival order.
        self.waiting: dict[str, list[tuple[dict[str, Any], bytes]]] = {}
        # Where this connection stopped following a conversation (it left the scope or
        # closed): coming back into scope resumes there, never sending a seq twice.
        self.left: OrderedDict[str, int] = OrderedDict()

    def remember_left(self, conv: str, pos: int) -> None:
        self.left[conv] = pos
        if len(self.left) > KNOWN_MAX:
            self.left.popitem(last=False)

    @property
    def whole_tenant(self) -> bool:
        return self.departments is None

    def learn(self, conv: str, department: str | None) -> None:
        if self.whole_tenant:
            return
        self._known[conv] = department
        self._known.move_to_end(conv)
        if len(self._known) > KNOWN_MAX:
            self._known.popitem(last=False)

    def in_scope(self, department: str | None) -> bool:
        return self.departments is None or department in self.departments

    def decide(self, payload: dict[str, Any], followed: bool) -> Verdict:
        conv = payload.get("conv")
        if not isinstance(conv, str) or not conv:
            return DELIVER
        name = payload.get("name")
        if not self.whole_tenant:
            hint = department_hint(payload)
            if hint is not _MISSING:
                self.learn(conv, hint if isinstance(hint, str) else None)
            if conv not in self._known:
                return LOOKUP
            self._known.move_to_end(conv)
        if self.in_scope(self._known.get(conv)):
            if name in NEVER_FOLLOWS:
                return DELIVER
            if name == CLOSED:
                return Verdict(deliver=True, finish=followed)
            return Verdict(deliver=True, follow=not followed)
        if followed and name == TRANSFERRED:
            return Verdict(deliver=True, unfollow=True)
        return DROP
