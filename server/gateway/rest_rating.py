"""REST: a visitor rates its closed conversation (CSAT), the same action as the WS ``rate``."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from server.errors import BadRequest
from server.gateway.api_bodies import RatingBody
from server.gateway.auth import require_visitor
from server.gateway.context import Services
from server.gateway.openapi import request_body


def build_rating_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_rating", url_prefix="/api/v1")

    @bp.post("/visitor/conversations/<conv:str>/rating", ctx_access="visitor")
    @request_body(RatingBody)
    async def post_rating(request: Request, conv: str) -> HTTPResponse:
        """Rate one's own closed conversation once: rating 1-5, optional comment."""
        actor = await require_visitor(services, request)
        body: Any = request.json
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        event = await services.chat.ratings.rate(
            actor, conv, body.get("rating"), body.get("comment")
        )
        return json({"conv": event["conv"], **event["data"]}, status=201)

    return bp
