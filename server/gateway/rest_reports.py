"""REST: conversation reports for admins (``GET /api/v1/reports``) and the AI robot's
(``GET /api/v1/reports/ai``)."""

from __future__ import annotations

import datetime as dt

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from server.admin.ai_reports import ai_report
from server.admin.reports import conversation_report, parse_range
from server.gateway.auth import require_agent
from server.gateway.context import Services
from server.kernel.enums import Role


def build_reports_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_reports", url_prefix="/api/v1")

    @bp.get("/reports", ctx_access="admin")
    async def get_reports(request: Request) -> HTTPResponse:
        """Conversation figures per day, agent or department, computed in SQL."""
        actor = await require_agent(services, request, role=Role.ADMIN)
        start, end = parse_range(
            request.args.get("from"), request.args.get("to"), dt.datetime.now(dt.UTC).date()
        )
        group = request.args.get("group") or "day"
        report = await services.store.run(conversation_report, actor, start, end, group)
        return json(report)

    @bp.get("/reports/ai", ctx_access="admin")
    async def get_ai_report(request: Request) -> HTTPResponse:
        """Per day: conversations the AI robot resolved without a person, hand-offs by reason."""
        actor = await require_agent(services, request, role=Role.ADMIN)
        start, end = parse_range(
            request.args.get("from"), request.args.get("to"), dt.datetime.now(dt.UTC).date()
        )
        return json(await services.store.run(ai_report, actor, start, end))

    return bp
