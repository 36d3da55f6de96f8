"""The AI robot's share of routing (docs/bridges.md, "Kind ai"; docs/routing.md).

* ``engage``: a new conversation on a site whose ``ai_mode`` engages the robot goes to a
  connected ``ai`` bridge of its scope (``conv.assigned`` with an ``ai`` assignee) instead
  of being offered to agents; ``when_no_agent`` only while no agent who may serve it is
  connected and online.
* ``by_robot`` / ``by_visitor``: the conversation leaves the robot for the queue (or a
  department), with a recorded reason, and is offered like a new one.
* ``hand_back_absent``: each node looks every few seconds at the ai bridges; one gone from
  every node for ``grace_secs`` (or revoked) loses its conversations to the queue
  (``ai_unavailable``). The conditional UPDATE makes exactly one node do each.

Which robots are connected is cluster presence under the key kind ``ai``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.chat.access import access_conversation
from server.chat.ai_rules import taken_over
from server.chat.queries import queued_event
from server.chat.robots import robot_wire
from server.errors import BadRequest, ErrorCode, NotFound, SteadyError
from server.foundation import audit
from server.kernel import topics
from server.kernel.actors import Actor, ConversationRef
from server.kernel.enums import (
    ROBOT_ASSIGNEE,
    AgentStatus,
    AiMode,
    BridgeKind,
    ConversationStatus,
    HandoffReason,
)
from server.storage.database import db, is_mysql
from server.storage.guard import TenantScope, cross_tenant
from server.storage.models import (
    Agent,
    AgentDepartment,
    AiHandoff,
    Bridge,
    Conversation,
    Department,
    Site,
    utcnow,
)
from steadywire.events import ConvAssigned, ConvTransferred
from steadywire.server_frames import Sender

if TYPE_CHECKING:
    from server.routing.service import RoutingService

log = logging.getLogger(__name__)

HAND_BACK_SECS = 30.0  # default: a robot gone this long loses its conversations
WATCH_SECS = 2.0  # how often a node looks for robots gone
ROBOT_REASONS = frozenset(r.value for r in HandoffReason) - {HandoffReason.VISITOR_BUTTON.value}
QUEUED, ACTIVE = ConversationStatus.QUEUED.value, ConversationStatus.ACTIVE.value


@dataclass(frozen=True)
class Plan:
    """Whether a new conversation could go to a robot: its mode, robots, serving agents."""

    mode: str
    robots: list[tuple[str, str]]  # (bridge id, name), the ai bridges whose scope covers it
    agents: list[str]  # enabled agents marked online who may serve it


@dataclass(frozen=True)
class HandOff:
    robot_id: str
    robot_name: str
    department: dict[str, str] | None


def engage_plan(tenant_id: str, conv: str) -> Plan | None:
    scope = TenantScope(tenant_id)
    row = scope.get_or_none(Conversation, Conversation.id == conv)
    if row is None or row.status != QUEUED or row.assignee_id is not None:
        return None
    site = scope.get_or_none(Site, Site.id == row.site_id)
    mode = site.ai_mode if site is not None else AiMode.OFF.value
    if mode not in (AiMode.FIRST_LINE.value, AiMode.WHEN_NO_AGENT.value):
        return None
    robots = []
    for bridge in (
        scope.select(Bridge)
        .where(Bridge.kind == BridgeKind.AI.value, Bridge.revoked_at.is_null())
        .order_by(Bridge.created_at, Bridge.id)
    ):
        departments = json.loads(bridge.departments or "[]")
        if not departments or row.department_id in departments:
            robots.append((bridge.id, bridge.name))
    agents: list[str] = []
    if robots and mode == AiMode.WHEN_NO_AGENT.value:
        query = scope.select(Agent, Agent.id).where(
            Agent.disabled == False,  # noqa: E712 - SQL
            Agent.status == AgentStatus.ONLINE.value,
        )
        if row.department_id:
            members = scope.select(AgentDepartment, AgentDepartment.agent_id).where(
                AgentDepartment.department_id == row.department_id
            )
            query = query.where(Agent.id.in_(members))
        agents = [agent_id for (agent_id,) in query.tuples()]
    return Plan(mode, robots, agents)


def claim_for_robot(tenant_id: str, conv: str, bridge_id: str) -> int | None:
    """Assign a waiting conversation to the robot; its last seq if this won, else None."""
    scope = TenantScope(tenant_id)
    with db.atomic():
        won = (
            scope.update(
                Conversation,
                status=ACTIVE,
                assignee_id=bridge_id,
                assignee_type=ROBOT_ASSIGNEE,
                assigned_at=utcnow(),
                offered_to=None,
                offer_deadline_ms=None,
            )
            .where(
                Conversation.id == conv,
                Conversation.status == QUEUED,
                Conversation.assignee_id.is_null(),
            )
            .execute()
        )
        row = scope.get_or_none(Conversation, Conversation.id == conv)
    return int(row.last_seq) if won and row is not None else None


def hand_off(
    ref: ConversationRef, reason: str, robot: Actor | None, department_id: str | None
) -> HandOff:
    """Move a robot-held conversation to the queue (or a department) and record why.

    ``robot``: the robot asking (it must hold it: else ``taken_over``; its transfer is
    audited here); None: the visitor or the watch (a conversation no robot holds is a
    ``bad_request``)."""
    robot_id = robot.id if robot is not None else None
    scope = TenantScope(ref.tenant_id)
    department = None
    if department_id is not None:
        found = scope.get_or_none(Department, Department.id == department_id)
        if found is None:
            raise NotFound("no such department")
        department = {"id": found.id, "name": found.name}
    with db.atomic():
        query = scope.select(Conversation).where(Conversation.id == ref.id)
        row = (query.for_update() if is_mysql() else query).first()
        held = (
            row is not None
            and row.status == ACTIVE
            and row.assignee_type == ROBOT_ASSIGNEE
            and (robot_id is None or row.assignee_id == robot_id)
        )
        if not held:
            if robot_id is not None:
                raise taken_over()
            raise BadRequest("the AI robot does not hold this conversation")
        changes: dict[str, Any] = {
            "status": QUEUED,
            "assignee_id": None,
            "assignee_type": None,
            "offered_to": None,
            "offer_deadline_ms": None,
            "offers_tried": "",
            "offer_seq": Conversation.offer_seq + 1,
        }
        if department is not None:
            changes["department_id"] = department["id"]
        scope.update(Conversation, **changes).where(Conversation.id == ref.id).execute()
        scope.create(AiHandoff, conversation_id=ref.id, bridge_id=row.assignee_id, reason=reason)
        if robot is not None:
            where = {"to_department": department["id"]} if department else {"to_queue": True}
            audit.in_transaction(
                robot, "conversation.transfer", ref.id, {**where, "reason": reason}
            )
        bridge = scope.get_or_none(Bridge, Bridge.id == row.assignee_id)
    return HandOff(row.assignee_id, bridge.name if bridge else "", department)


def robot_bridges() -> list[tuple[str, str, bool]]:
    """Every ai bridge of the install: (tenant, id, revoked). A small table."""
    with cross_tenant():  # the watch looks after every tenant's robots
        query = Bridge.select(Bridge.tenant_id, Bridge.id, Bridge.revoked_at).where(
            Bridge.kind == BridgeKind.AI.value
        )
        rows: list[tuple[str, str, Any]] = list(query.tuples())  # type: ignore[arg-type]
    return [(tenant, bridge, revoked is not None) for tenant, bridge, revoked in rows]


def held_conversations(tenant_id: str, bridge_id: str) -> list[ConversationRef]:
    scope = TenantScope(tenant_id)
    rows = scope.select(Conversation).where(
        Conversation.assignee_id == bridge_id,
        Conversation.assignee_type == ROBOT_ASSIGNEE,
        Conversation.status == ACTIVE,
    )
    return [ConversationRef(r.id, r.tenant_id, r.visitor_id, r.site_id) for r in rows]


def presence_ids_of(plan: Plan) -> list[str]:
    return [robot_id for robot_id, _ in plan.robots]


class RobotDesk:
    def __init__(self, routing: RoutingService, *, grace_secs: float = HAND_BACK_SECS):
        self.routing = routing
        self.grace_secs = grace_secs
        self._absent_since: dict[str, float] = {}
        self._emptied: set[str] = set()  # revoked robots found holding nothing: done
        self._watch: asyncio.Task[None] | None = None

    # -- a conversation starts ------------------------------------------------------------
    async def engage(self, tenant_id: str, conv: str) -> bool:
        """Give a new conversation to a connected robot when its site's mode says so."""
        presence, store = self.routing.presence, self.routing.store
        if presence is None:
            return False
        plan = await store.run(engage_plan, tenant_id, conv)
        if plan is None or not plan.robots:
            return False
        connected = await presence.connected_ids("ai", tenant_id, presence_ids_of(plan))
        robots = [(i, n) for i, n in plan.robots if i in connected]
        if not robots:
            return False
        if plan.agents and await presence.connected_ids("agent", tenant_id, plan.agents):
            return False  # when_no_agent: somebody who may serve it is here
        robot_id, name = robots[0]
        last_seq = await store.run(claim_for_robot, tenant_id, conv, robot_id)
        if last_seq is None:
            return False
        assignee = Sender(**robot_wire(robot_id, name))
        # ``agent`` too, for clients that read only it (they show the robot's name).
        assigned = ConvAssigned(assignee, last_seq, assignee=assignee)
        event = assigned.to_event(conv)
        ref = await self.routing.directory.lookup(conv)
        for_agents = await self.routing._with_visitor(ref, assigned) if ref else event
        self.routing.bus.publish(topics.conversation(conv), event)
        self.routing.bus.publish(topics.agents(tenant_id), for_agents)
        return True

    # -- hand-offs ------------------------------------------------------------------------
    async def by_robot(
        self, robot: Actor, conv: object, to_department: object, to_queue: object, reason: object
    ) -> dict[str, Any]:
        if not isinstance(reason, str) or reason not in ROBOT_REASONS:
            raise BadRequest(
                f"reason must be one of {', '.join(sorted(ROBOT_REASONS))}",
                code=ErrorCode.BAD_FRAME,
            )
        if isinstance(to_department, str) and to_department:
            department: str | None = to_department
        elif to_queue is True:
            department = None
        else:
            raise BadRequest("transfer needs to_department or to_queue", code=ErrorCode.BAD_FRAME)
        ref = await access_conversation(self.routing.directory, robot, conv)
        return await self._hand_off(ref, reason, robot, department)

    async def by_visitor(self, visitor: Actor, conv: object) -> dict[str, Any]:
        ref = await access_conversation(self.routing.directory, visitor, conv)
        return await self._hand_off(ref, HandoffReason.VISITOR_BUTTON.value, None, None)

    async def _hand_off(
        self, ref: ConversationRef, reason: str, robot: Actor | None, department: str | None
    ) -> dict[str, Any]:
        routing = self.routing
        done = await routing.store.run(hand_off, ref, reason, robot, department)
        target = done.department or {}
        transferred = ConvTransferred(
            robot_wire(done.robot_id, done.robot_name),
            None,
            target.get("id"),
            None,
            None,
            target.get("name"),
            to_queue=done.department is None,
            reason=reason,
        )
        event = transferred.to_event(ref.id)
        routing.bus.publish(topics.conversation(ref.id), event)
        routing.bus.publish(topics.agents(ref.tenant_id), event)
        queued = await routing.store.run(queued_event, ref.tenant_id, ref.id)
        if queued and routing.presence is not None:
            await routing.presence.annotate_queued(ref.tenant_id, queued)
        if queued:
            routing.bus.publish(topics.agents(ref.tenant_id), queued)
        await routing._quietly(routing.conversation_queued(ref.tenant_id, ref.id))
        return event

    # -- robots gone ------------------------------------------------------------------------
    async def hand_back_absent(self) -> int:
        """Hand the conversations of robots gone past the grace (or revoked) to the queue."""
        routing = self.routing
        robots = await routing.store.run(robot_bridges)
        if not robots or routing.presence is None:
            return 0
        now = time.monotonic()
        moved = 0
        for tenant_id, bridge_id, revoked in robots:
            if revoked and bridge_id in self._emptied:
                continue
            here = bridge_id in await routing.presence.connected_ids("ai", tenant_id, [bridge_id])
            if here and not revoked:
                self._absent_since.pop(bridge_id, None)
                continue
            since = self._absent_since.setdefault(bridge_id, now)
            if not revoked and now - since < self.grace_secs:
                continue
            held = await routing.store.run(held_conversations, tenant_id, bridge_id)
            if revoked and not held:
                self._emptied.add(bridge_id)  # a revoked robot is given nothing new
            for ref in held:
                try:
                    await self._hand_off(ref, HandoffReason.AI_UNAVAILABLE.value, None, None)
                    moved += 1
                except SteadyError:
                    continue  # another node or a person got there first
        return moved

    def start(self) -> None:
        self._watch = asyncio.get_running_loop().create_task(self._watch_forever())

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None

    async def _watch_forever(self) -> None:
        while True:
            await asyncio.sleep(min(WATCH_SECS, max(self.grace_secs / 4, 0.25)))
            try:
                await self.hand_back_absent()
            except SteadyError as err:
                log.warning("robot watch failed: %s", err.message)
            except Exception:
                log.exception("robot watch failed")


def serving_agents(tenant_id: str, departments: frozenset[str] | None) -> list[str]:
    """Enabled agents marked online who may serve the scope (members of its departments)."""
    scope = TenantScope(tenant_id)
    query = scope.select(Agent, Agent.id).where(
        Agent.disabled == False,  # noqa: E712 - SQL
        Agent.status == AgentStatus.ONLINE.value,
    )
    if departments is not None:
        members = scope.select(AgentDepartment, AgentDepartment.agent_id).where(
            AgentDepartment.department_id.in_(sorted(departments))
        )
        query = query.where(Agent.id.in_(members))
    return [agent_id for (agent_id,) in query.tuples()]


async def agents_online(routing: RoutingService, robot: Actor) -> int:
    """How many agents of the robot's scope are online and connected on some node."""
    ids = await routing.store.run(serving_agents, robot.tenant_id, robot.departments)
    if routing.presence is None or not ids:
        return 0
    return len(await routing.presence.connected_ids("agent", robot.tenant_id, ids))
