"""The robot's ``/healthz`` and ``/metrics`` (BRIDGES §2), on the core's endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sanic import HTTPResponse, Request, Sanic
from sanic.response import json as json_response
from sanic.response import raw

from bots.core.http import PROMETHEUS_TYPE, HttpEndpoint

if TYPE_CHECKING:
    from bots.ai.robot import Robot


def build_ai_app(robot: Robot) -> Sanic:
    Sanic.test_mode = True
    app = Sanic(f"bridge_ai_{id(robot)}", configure_logging=False)
    app.config.AUTO_EXTEND = False

    async def healthz(request: Request) -> HTTPResponse:
        body = robot.health()
        # An open model breaker is not unhealthy: the robot answers from retrieval.
        return json_response(body, status=200 if body["server"] == "OK" else 503)

    async def metrics(request: Request) -> HTTPResponse:
        robot.server_breakers.refresh_metrics(("server",))
        robot.llm_breakers.refresh_metrics(("llm",))
        return raw(robot.metrics.render(), content_type=PROMETHEUS_TYPE)

    app.add_route(healthz, "/healthz", methods=["GET"])
    app.add_route(metrics, "/metrics", methods=["GET"])
    return app


class AiHttpEndpoint(HttpEndpoint):
    def __init__(self, robot: Robot) -> None:
        self.app = build_ai_app(robot)
        self._server = None
