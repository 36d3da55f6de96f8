"""HTTP routes: visitor sessions, agent login, health, metrics, and the WebSocket endpoints."""

from __future__ import annotations

import hmac
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sanic import Blueprint, Request, Sanic, json
from sanic.response import HTTPResponse, empty, raw
from sanic.server.websockets.impl import WebsocketImplProtocol

from server.admin.auth import ClientInfo, LoginPolicy, agent_login, visitor_session
from server.errors import BadRequest, ErrorCode, Forbidden
from server.gateway import api_bodies as bodies
from server.gateway.context import Services
from server.gateway.errors import error_response
from server.gateway.net import client_ip, https_served, is_secure, peer_address
from server.gateway.openapi import request_body, response_body
from server.gateway.ws import Gateway
from server.observability import metrics
from server.observability.health import health_report
from server.routing.availability import check_department, now_utc, session_extras

WS_PATHS = ("/ws/visitor", "/ws/agent")
SESSION_PATH = "/api/v1/visitor/session"


def allow_cross_origin(request: Request, response: HTTPResponse) -> None:
    """The widget runs on the tenant's site and calls the session endpoint from there.

    Echoing the Origin is safe: no cookies or credentials are involved, and the
    endpoint itself refuses an origin the site does not list (403, readable by the
    widget thanks to these headers).
    """
    origin = request.headers.get("origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"


OPEN_PATHS = ("/api/healthz", "/metrics")  # probed by load balancers and scrapers
HSTS = "max-age=31536000"  # a year; subdomains are the operator's to decide


def install_middleware(app: Sanic, services: Services) -> None:
    """App-wide, so every blueprint and even unmatched paths get the same rules."""
    settings = services.settings

    async def guard_transport(request: Request) -> HTTPResponse | None:
        request.ctx.started = time.perf_counter()
        if request.path in OPEN_PATHS:
            return None
        if not is_secure(request, settings):
            return error_response(str(ErrorCode.HTTPS_REQUIRED), "use https", 403)
        if request.path in WS_PATHS:
            if not services.accepting:
                return error_response(str(ErrorCode.UNAVAILABLE), "node is shutting down", 503)
            if not await services.connection_rate.allow(client_ip(request, settings)):
                metrics.ERRORS.labels("rate_limited").inc()
                return error_response(str(ErrorCode.RATE_LIMITED), "too many new connections", 429)
        return None

    async def observe(request: Request, response: HTTPResponse) -> None:
        # Every label has a bounded set of values: a made-up method or path is "other" /
        # "unmatched", so no caller can grow /metrics (issue #11).
        route = request.route.path if request.route else "unmatched"
        metrics.HTTP_REQUESTS.labels(
            metrics.method_label(request.method), route, metrics.status_label(response.status)
        ).inc()
        started = getattr(request.ctx, "started", None)
        if started is not None:
            metrics.HTTP_LATENCY.labels(route).observe(time.perf_counter() - started)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        if https_served(request, settings):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if request.path == SESSION_PATH:
            allow_cross_origin(request, response)

    app.on_request(guard_transport)
    app.on_response(observe)


def build_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk")
    gateway = Gateway(services)
    settings = services.settings

    def client(request: Request) -> ClientInfo:
        return ClientInfo(
            ip=client_ip(request, settings),
            user_agent=request.headers.get("user-agent", ""),
            origin=request.headers.get("origin"),
        )

    def body(request: Request) -> dict[str, Any]:
        data = request.json
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data

    @bp.options(SESSION_PATH, ctx_access="public")
    async def preflight_visitor_session(request: Request) -> HTTPResponse:
        """CORS preflight for the widget's session call."""
        response = empty(status=204)
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        return response

    @bp.post(SESSION_PATH, ctx_access="public")
    @request_body(bodies.VisitorSessionBody)
    @response_body(bodies.VisitorSessionAnswer)
    async def post_visitor_session(request: Request) -> HTTPResponse:
        """Open or restore a visitor session (PROTOCOL §3)."""
        fields = body(request)
        department = await services.store.run(
            check_department,
            fields.get("site_key"),
            fields.get("department"),
            request.headers.get("origin"),
        )
        result = await services.store.run(
            visitor_session,
            services.signer,
            fields,
            client(request),
            ttl_secs=settings.visitor_token_ttl_secs,
            default_hash_max_age=settings.user_hash_max_age_secs,
        )
        result.update(
            await services.store.run(
                session_extras, fields["site_key"], result["visitor_id"], department, now_utc()
            )
        )
        return json(result)

    @bp.post("/api/v1/auth/login", ctx_access="public")
    @request_body(bodies.AgentLoginBody)
    @response_body(bodies.AgentLoginAnswer)
    async def post_login(request: Request) -> HTTPResponse:
        """Agent login: a bearer token for REST and the agent WebSocket."""
        policy = LoginPolicy(
            settings.login_max_failures_account,
            settings.login_max_failures_ip,
            settings.login_window_secs,
            settings.agent_token_ttl_secs,
        )
        result = await services.store.run(
            agent_login, services.signer, body(request), client(request), policy
        )
        return json(result)

    @bp.get("/api/healthz", ctx_access="public")
    async def get_health(request: Request) -> HTTPResponse:
        """Health of database, bus and WebSocket service."""
        healthy, report = await health_report(settings, services.store, services.accepting)
        return json(report, status=200 if healthy else 503)

    @bp.get("/metrics")
    async def get_metrics(request: Request) -> HTTPResponse:
        token = settings.metrics_token
        supplied = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        allowed = peer_address(request) in settings.metrics_allow_set or (
            bool(token) and hmac.compare_digest(supplied.encode(), token.encode())
        )
        if not allowed:
            raise Forbidden("metrics are not public")
        return raw(generate_latest(), content_type=CONTENT_TYPE_LATEST)

    @bp.websocket("/ws/visitor")
    async def ws_visitor(request: Request, ws: WebsocketImplProtocol) -> None:
        await gateway.serve(request, ws, "visitor")

    @bp.websocket("/ws/agent")
    async def ws_agent(request: Request, ws: WebsocketImplProtocol) -> None:
        await gateway.serve(request, ws, "agent")

    return bp
