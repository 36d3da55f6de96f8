"""Labels on conversations: any agent of the tenant adds, removes and lists them. A change
is told to the tenant's agents (``conv.labels``), so every console shows it at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import peewee as pw

from server.bus import Bus
from server.errors import BadRequest, NotFound
from server.kernel import topics
from server.kernel.actors import Actor
from server.storage.database import Store, db, is_mysql
from server.storage.guard import TenantScope
from server.storage.models import Conversation, ConversationLabel
from steadywire.events import ConvLabels
from steadywire.server_frames import Sender

LABEL_MAX_CHARS = 50
LABELS_PER_CONVERSATION = 20


def check_label(value: object) -> str:
    """A label is trimmed and lower-cased: "Billing" and "billing " are one label on every
    backend (MySQL's collation would merge them anyway)."""
    if not isinstance(value, str):
        raise BadRequest("label must be a string")
    label = " ".join(value.split()).lower()
    if not label or len(label) > LABEL_MAX_CHARS:
        raise BadRequest(f"label must have 1..{LABEL_MAX_CHARS} characters")
    # No "/": a label is addressed in a URL path (DELETE .../labels/{label}).
    if any(ord(ch) < 32 or ord(ch) == 127 or ch == "/" for ch in label):
        raise BadRequest("label must not contain '/' or control characters")
    return label


def access_conversation_row(scope: TenantScope, conv: str, *, lock: bool = False) -> Conversation:
    """The tenant's conversation; another tenant's is as unknown as a made-up id.

    ``lock``: hold the row until the transaction ends (MySQL; SQLite transactions take the
    write lock when they begin), so count-then-insert under it cannot race."""
    query = scope.select(Conversation).where(Conversation.id == conv)
    if lock and is_mysql():
        query = query.for_update()
    row = query.first()
    if row is None:
        raise NotFound("no such conversation")
    return row


def conversation_labels(scope: TenantScope, conv: str) -> list[str]:
    rows = (
        scope.select(ConversationLabel, ConversationLabel.label)
        .where(ConversationLabel.conversation_id == conv)
        .order_by(ConversationLabel.label)
        .tuples()
    )
    return [row[0] for row in rows]


@dataclass(frozen=True, slots=True)
class Labels:
    """A conversation's labels, sorted, and their version (``Conversation.labels_version``,
    one up with every change): what the REST answers and ``conv.labels`` carry."""

    labels: list[str]
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"labels": self.labels, "version": self.version}


def list_labels(actor: Actor, conv: str) -> Labels:
    scope = TenantScope(actor.tenant_id)
    row = access_conversation_row(scope, conv)
    # The row (its version) first, the labels after: the labels are never older than
    # the version they are given with.
    return Labels(conversation_labels(scope, conv), int(row.labels_version))


async def add(store: Store, bus: Bus, actor: Actor, conv: str, value: object) -> Labels:
    """Add a label (adding it twice is harmless); the conversation's labels."""
    labels, changed = await store.run(_add_label, actor, conv, value)
    if changed:
        _tell(bus, actor, conv, labels)
    return labels


async def remove(store: Store, bus: Bus, actor: Actor, conv: str, value: object) -> Labels:
    """Remove a label (one it does not carry is no change); the conversation's labels."""
    labels, changed = await store.run(_remove_label, actor, conv, value)
    if changed:
        _tell(bus, actor, conv, labels)
    return labels


def _tell(bus: Bus, actor: Actor, conv: str, labels: Labels) -> None:
    # To every agent, like the labels themselves: any agent may read and change them.
    # Two changes on two nodes may reach a console in either order: the version says
    # which set is the newer.
    event = ConvLabels(tuple(labels.labels), Sender(**actor.wire()), labels.version)
    bus.publish(topics.agents(actor.tenant_id), event.to_event(conv))


def _add_label(actor: Actor, conv: str, value: object) -> tuple[Labels, bool]:
    scope = TenantScope(actor.tenant_id)
    with db.atomic():
        # The conversation first: another tenant's id is 404 whatever the label says.
        # Locked: changes of one conversation's labels take turns, in version order.
        row = access_conversation_row(scope, conv, lock=True)
        label = check_label(value)
        labels = conversation_labels(scope, conv)
        if label in labels:
            return Labels(labels, int(row.labels_version)), False
        if len(labels) >= LABELS_PER_CONVERSATION:
            raise BadRequest(f"a conversation has at most {LABELS_PER_CONVERSATION} labels")
        scope.insert_many(
            ConversationLabel,
            [{"conversation_id": conv, "label": label, "created_by": actor.id[:26]}],
        ).on_conflict_ignore().execute()
        return _next_version(scope, row), True


def _remove_label(actor: Actor, conv: str, value: object) -> tuple[Labels, bool]:
    scope = TenantScope(actor.tenant_id)
    with db.atomic():
        # The conversation first: another tenant's id is 404 whatever the label says.
        row = access_conversation_row(scope, conv, lock=True)
        label = check_label(value)
        removed = (
            scope.delete(ConversationLabel)
            .where(ConversationLabel.conversation_id == conv, ConversationLabel.label == label)
            .execute()
        )
        if not removed:
            return Labels(conversation_labels(scope, conv), int(row.labels_version)), False
        return _next_version(scope, row), True


def _next_version(scope: TenantScope, row: Conversation) -> Labels:
    """In the change's transaction, under the row's lock: one up, and the labels as of it."""
    version = int(row.labels_version) + 1
    scope.update(Conversation, labels_version=version).where(Conversation.id == row.id).execute()
    return Labels(conversation_labels(scope, row.id), version)


def tenant_labels(actor: Actor) -> list[dict[str, Any]]:
    """Every label in use in the tenant, with how many conversations carry it."""
    scope = TenantScope(actor.tenant_id)
    count = pw.fn.COUNT(ConversationLabel.id)
    rows = (
        scope.select(ConversationLabel, ConversationLabel.label, count.alias("n"))
        .group_by(ConversationLabel.label)
        .order_by(count.desc(), ConversationLabel.label)
        .limit(1000)
        .tuples()
    )
    return [{"label": label, "count": int(n)} for label, n in rows]
