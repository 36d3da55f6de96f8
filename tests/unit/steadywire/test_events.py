"""Typed event data serialise to exactly what the server sent before they existed.

Each expected object below is the dict the server built by hand before it used these
classes (same keys, same order, same omissions): ``to_event`` must give the same bytes,
and parsing those bytes must give the same typed value back.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import steadywire as w
from steadywire.events import ConvOffered, ConvOfferExpired

ANN = w.Sender("agent", "a1", "Ann")
ROBOT = {"type": "ai", "id": "b1", "name": "Robo"}
CONTEXT = {"id": "v1", "name": "Ada", "email": None}
TS = "2026-01-01T00:00:00.000Z"
ADA = w.Sender("visitor", "v1", "Ada")
MESSAGE = w.Message("c1", "m1", 1, TS, "text", "hi", ADA, "hi", "k1")
PNG = w.Attachment("f1", "a.png", 3, "image/png", "", "")  # metadata: not signed yet
FILED = w.Message("c1", "m2", 2, TS, "text", "", ADA, "", "k2", (PNG,))
ANN_WIRE = {"type": "agent", "id": "a1", "name": "Ann"}


def event(name: str, conv: str | None, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event", "name": name, "conv": conv, "data": data}


CASES: list[tuple[str, Any, str | None, dict[str, Any]]] = [
    ("opened", w.ConvOpened("c0"), "c1", event("conv.opened", "c1", {"previous": "c0"})),
    (
        "opened by invite",
        w.ConvOpened(None, invited_by=ANN),
        "c1",
        event("conv.opened", "c1", {"previous": None, "invited_by": ANN_WIRE}),
    ),
    (
        "queued",
        w.ConvQueued(CONTEXT, (MESSAGE,), "queued", "2026-01-01T00:00:00Z", "d1", True),
        "c1",
        event(
            "conv.queued",
            "c1",
            {
                "status": "queued",
                "created_at": "2026-01-01T00:00:00Z",
                "visitor": CONTEXT,
                "department": "d1",
                "messages": [MESSAGE.to_wire()],
                "visitor_online": True,
            },
        ),
    ),
    (
        "queued, no visitor, presence unknown",
        w.ConvQueued({}, (FILED,), "queued", "2026-01-01T00:00:00Z", None),
        "c1",
        event(
            "conv.queued",
            "c1",
            {
                "status": "queued",
                "created_at": "2026-01-01T00:00:00Z",
                "visitor": None,
                "department": None,
                "messages": [
                    {
                        **FILED.to_wire(),
                        "attachments": [
                            {"id": "f1", "name": "a.png", "size": 3, "type": "image/png"}
                        ],
                    }
                ],
            },
        ),
    ),
    (
        "updated",
        w.ConvUpdated(MESSAGE, 1),
        "c1",
        event("conv.updated", "c1", {"message": MESSAGE.to_wire(), "last_seq": 1}),
    ),
    (
        "assigned (visitor's copy)",
        w.ConvAssigned(ANN, 4, assignee=ANN),
        "c1",
        event("conv.assigned", "c1", {"agent": ANN_WIRE, "assignee": ANN_WIRE, "last_seq": 4}),
    ),
    (
        "assigned (agents' copy)",
        w.ConvAssigned(ANN, 4, CONTEXT, assignee=ANN, for_agents=True),
        "c1",
        event(
            "conv.assigned",
            "c1",
            {"agent": ANN_WIRE, "assignee": ANN_WIRE, "last_seq": 4, "visitor": CONTEXT},
        ),
    ),
    (
        "assigned by transfer, visitor unknown",
        w.ConvAssigned(ANN, 4, for_agents=True),
        "c1",
        event("conv.assigned", "c1", {"agent": ANN_WIRE, "last_seq": 4, "visitor": None}),
    ),
    (
        "assigned by invite",
        w.ConvAssigned(ANN, 0, CONTEXT, for_agents=True, invited=True),
        "c1",
        event(
            "conv.assigned",
            "c1",
            {"agent": ANN_WIRE, "last_seq": 0, "visitor": CONTEXT, "invited": True},
        ),
    ),
    (
        "transferred to an agent, with a note",
        w.ConvTransferred(ANN_WIRE, {"type": "agent", "id": "a2", "name": "Bo"}, None, 5, "vip"),
        "c1",
        event(
            "conv.transferred",
            "c1",
            {
                "from": ANN_WIRE,
                "to_agent": {"type": "agent", "id": "a2", "name": "Bo"},
                "last_seq": 5,
                "note": "vip",
            },
        ),
    ),
    (
        "transferred to a department",
        w.ConvTransferred(ANN_WIRE, None, "d1", None, None, "Sales"),
        "c1",
        event(
            "conv.transferred",
            "c1",
            {"from": ANN_WIRE, "to_department": {"id": "d1", "name": "Sales"}},
        ),
    ),
    (
        "handed to the queue by the robot",
        w.ConvTransferred(ROBOT, None, None, None, None, to_queue=True, reason="asked_for_human"),
        "c1",
        event(
            "conv.transferred",
            "c1",
            {"from": ROBOT, "to_queue": True, "reason": "asked_for_human"},
        ),
    ),
    (
        "closed with csat",
        w.ConvClosed(ANN, True),
        "c1",
        event("conv.closed", "c1", {"by": ANN_WIRE, "csat": True}),
    ),
    ("closed", w.ConvClosed(ANN), "c1", event("conv.closed", "c1", {"by": ANN_WIRE})),
    (
        "rated",
        w.ConvRated(5, None, "2026-01-01T00:00:00Z"),
        "c1",
        event(
            "conv.rated", "c1", {"rating": 5, "comment": None, "rated_at": "2026-01-01T00:00:00Z"}
        ),
    ),
    (
        "labels",
        w.ConvLabels(("refund", "vip"), ANN),
        "c1",
        event("conv.labels", "c1", {"labels": ["refund", "vip"], "by": ANN_WIRE}),
    ),
    (
        "labels with their version",
        w.ConvLabels(("vip",), ANN, 7),
        "c1",
        event("conv.labels", "c1", {"labels": ["vip"], "by": ANN_WIRE, "version": 7}),
    ),
    (
        "offered",
        ConvOffered(ANN, "d1", 30, "2026-01-01T00:00:30.000Z", 2),
        "c1",
        event(
            "conv.offered",
            "c1",
            {
                "agent": ANN_WIRE,
                "department": "d1",
                "timeout_secs": 30,
                "expires_at": "2026-01-01T00:00:30.000Z",
                "offer": 2,
            },
        ),
    ),
    (
        "offer expired",
        ConvOfferExpired("a1"),
        "c1",
        event("conv.offer_expired", "c1", {"agent": "a1"}),
    ),
    (
        "agent status",
        w.AgentStatusChanged(ANN, "away"),
        None,
        event("agent.status", None, {"agent": ANN_WIRE, "state": "away"}),
    ),
    (
        "agent presence",
        w.PresenceChanged(w.Sender("agent", "a1"), True),
        None,
        event("agent.presence", None, {"agent": {"type": "agent", "id": "a1"}, "connected": True}),
    ),
    (
        "visitor presence",
        w.PresenceChanged(w.Sender("visitor", "v1"), False),
        None,
        event(
            "visitor.presence",
            None,
            {"visitor": {"type": "visitor", "id": "v1"}, "connected": False},
        ),
    ),
    (
        "visitor seen",
        w.VisitorSeen("v1", "https://shop.example/", "Shop", None, "2026-01-01T00:00:00Z"),
        "c1",
        event(
            "visitor.seen",
            "c1",
            {
                "visitor": "v1",
                "url": "https://shop.example/",
                "title": "Shop",
                "referrer": None,
                "at": "2026-01-01T00:00:00Z",
            },
        ),
    ),
    (
        "visitor online",
        w.VisitorCameOrWent(w.Sender("visitor", "v1"), "2026-01-01T00:00:00Z"),
        None,
        event(
            "visitor.online",
            None,
            {"visitor": {"type": "visitor", "id": "v1"}, "at": "2026-01-01T00:00:00Z"},
        ),
    ),
    (
        "visitor offline",
        w.VisitorCameOrWent(w.Sender("visitor", "v1"), "2026-01-01T00:00:00Z", online=False),
        None,
        event(
            "visitor.offline",
            None,
            {"visitor": {"type": "visitor", "id": "v1"}, "at": "2026-01-01T00:00:00Z"},
        ),
    ),
    ("monitor", w.MonitorSubscribed(True), None, event("monitor.subscribed", None, {"on": True})),
]


@pytest.mark.parametrize(
    ("details", "conv", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_event_data_serialise_as_the_server_sent_them(
    details: w.EventDetails, conv: str | None, expected: dict[str, Any]
) -> None:
    assert w.dumps(details.to_event(conv)) == orjson.dumps(expected)


@pytest.mark.parametrize(
    ("details", "conv", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_parsing_what_the_server_sent_gives_the_same_data(
    details: w.EventDetails, conv: str | None, expected: dict[str, Any]
) -> None:
    frame = w.parse_server_frame(orjson.dumps(expected))
    assert isinstance(frame, w.Event)
    assert frame.details() == details


def test_an_error_keeps_its_own_detail_after_cid_and_conv() -> None:
    raw = (
        b'{"type":"error","code":"prechat_required","message":"fill","cid":"k","fields":["email"]}'
    )
    frame = w.parse_server_frame(raw)
    assert frame == w.Error("prechat_required", "fill", "k", None, {"fields": ["email"]})
    assert w.dumps(frame) == raw


def test_an_attachment_before_its_url_is_signed_is_its_metadata() -> None:
    meta = w.Attachment("f1", "a.png", 3, "image/png", "", "")
    assert meta.to_wire() == {"id": "f1", "name": "a.png", "size": 3, "type": "image/png"}
    signed = w.Attachment("f1", "a.png", 3, "image/png", "https://x/f1", "2026-01-01T00:00:00Z")
    assert list(signed.to_wire()) == ["id", "name", "size", "type", "url", "expires_at"]
