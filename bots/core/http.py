"""The bridge's own HTTP endpoint (BRIDGES §2): ``/healthz``, ``/metrics`` and the
platform's webhook paths, served by Sanic inside the bridge's event loop."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from sanic import HTTPResponse, Request, Sanic
from sanic.response import json as json_response
from sanic.response import raw

if TYPE_CHECKING:
    from bots.core.bridge import Bridge

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def build_app(bridge: Bridge) -> Sanic:
    # A fresh name per bridge: Sanic keeps a registry of app names.
    Sanic.test_mode = True  # lets several bridges (tests) live in one process
    app = Sanic(f"bridge_{bridge.platform.kind}_{id(bridge)}", configure_logging=False)
    app.config.AUTO_EXTEND = False  # no sanic-ext (OpenAPI pages) on the bridge's endpoint
    app.config.KEEP_ALIVE_TIMEOUT = 30
    app.config.REQUEST_MAX_SIZE = 2**20

    async def healthz(request: Request) -> HTTPResponse:
        outbox = await bridge.store.outbox_depth()
        bridge.metrics.outbox_depth.set(outbox)
        body = {
            "server": bridge.health.server,
            "platform": bridge.health.platform,
            "breakers": bridge.breaker_states(),
            "outbox": outbox,
        }
        return json_response(body, status=200 if bridge.health.ok else 503)

    async def metrics(request: Request) -> HTTPResponse:
        bridge.metrics.outbox_depth.set(await bridge.store.outbox_depth())
        bridge.breakers.refresh_metrics()
        return raw(bridge.metrics.render(), content_type=PROMETHEUS_TYPE)

    app.add_route(healthz, "/healthz", methods=["GET"])
    app.add_route(metrics, "/metrics", methods=["GET"])
    for path, methods, handler in bridge.platform.http_routes():
        app.add_route(handler, path, methods=methods, name=path.strip("/").replace("/", "_"))
    return app


class HttpEndpoint:
    def __init__(self, bridge: Bridge) -> None:
        self.app = build_app(bridge)
        self._server: Any = None

    async def start(self, host: str, port: int) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
        self._server = await self.app.create_server(
            sock=sock, return_asyncio_server=True, access_log=False
        )
        if self._server is None:
            raise OSError(f"cannot serve on {host}:{port}")
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()

    async def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._server = None
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
