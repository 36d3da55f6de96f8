"""Helpers for the AI robot's server side: a robot (an ``ai`` bridge) connected, a site's
``ai_mode``, a visitor's first message, frames the robot sends."""

from __future__ import annotations

from typing import Any

from tests.admin.conftest import call
from tests.support.bridges import Bridge, connect_bridge, new_bridge
from tests.support.clients import Clients, Frame, WsClient, new_cid
from tests.support.server import DemoTenant, ServerProcess


async def set_mode(server: ServerProcess, admin_token: str, tenant: DemoTenant, mode: str) -> None:
    resp = await call(server, "PATCH", f"/api/v1/sites/{tenant.site_key}", token=admin_token,
                      body={"ai_mode": mode})
    assert resp.status_code == 200 and resp.json()["ai_mode"] == mode, resp.text


async def robot(
    clients: Clients, server: ServerProcess, admin_token: str, *, name: str = "Aiko",
    departments: list[str] | None = None,
) -> tuple[Bridge, WsClient]:
    bridge = await new_bridge(server, admin_token, kind="ai", name=name, departments=departments)
    return bridge, await connect_bridge(clients, server, bridge, label=f"robot {name}")


async def start_chat(clients: Clients, server: ServerProcess, tenant: DemoTenant,
                     body: str = "Where is my order?", **fields: Any) -> tuple[WsClient, str]:
    visitor = await clients.visitor(server, demo=tenant, name="Vera", **fields)
    ack = await visitor.send_and_ack(body)
    return visitor, str(ack["conv"])


def event_of(name: str, conv: str) -> Any:
    return lambda f: f["type"] == "event" and f.get("name") == name and f.get("conv") == conv


async def robot_says(ws: WsClient, conv: str, body: str, **extra: Any) -> Frame:
    """A robot's ``send``; its ack or error (the socket stays open either way)."""
    cid = new_cid()
    await ws.send_json({"type": "send", "conv": conv, "cid": cid, "body": body, **extra})
    return await ws.wait_ack(cid)


async def refused(ws: WsClient, frame: dict[str, Any]) -> Frame:
    await ws.send_json(frame)
    if "cid" in frame:
        err = await ws.wait_ack(frame["cid"])
    else:
        err = await ws.recv_until(
            lambda f: f["type"] == "error" and f.get("conv") == frame.get("conv"),
            what=f"error about {frame.get('conv')}")
    assert err["type"] == "error", err
    await ws.ping_pong()
    return err
