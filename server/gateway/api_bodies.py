"""Request and response bodies of the routes that check their JSON by hand, for the
OpenAPI document only (``request_body`` / ``response_body`` in server.gateway.openapi).

The actions named in each docstring stay the authority on what is accepted: these models
describe it for integrators (limits included) and are never used to validate. When an
action's checks change, change its model here too (tests/admin/test_openapi.py holds every
write route to a documented body or a declared ``no_body``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# -- sessions and logins (PROTOCOL §3) -----------------------------------------------------


class VisitorSessionBody(BaseModel):
    """``POST /api/v1/visitor/session`` (server.admin.auth.visitor_session). The Origin
    header, when sent, must be one of the site's allowed origins (else 403)."""

    site_key: str = Field(max_length=40, description="the site's public key")
    token: str | None = Field(
        default=None, description="a previous visitor token: restores the same visitor"
    )
    user_id: str | None = Field(
        default=None,
        max_length=191,
        description="the site's own user id (identity verification; needs user_hash)",
    )
    user_hash: str | None = Field(
        default=None,
        description="hex HMAC-SHA256(site_secret, user_id), or with user_ts the timed "
        'form "t1:" + hex(HMAC) (docs/widget.md)',
    )
    user_ts: int | None = Field(
        default=None, description="unix seconds the timed user_hash was made at"
    )
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    page_url: str | None = Field(default=None, max_length=1000)
    referrer: str | None = Field(default=None, max_length=1000)
    language: str | None = Field(default=None, max_length=35)
    department: str | None = Field(
        default=None, max_length=26, description="pre-chat department id of the site's tenant"
    )


class VisitorSessionAnswer(BaseModel):
    visitor_id: str
    token: str = Field(description="bearer token for /ws/visitor and visitor routes")
    expires_at: str = Field(description="ISO 8601")
    conversation: str | None = Field(description="the visitor's open conversation, if any")


class AgentLoginBody(BaseModel):
    """``POST /api/v1/auth/login`` (server.admin.auth.agent_login); every attempt is logged
    and repeated failures are throttled (429 ``too_many_attempts``)."""

    tenant: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1)


class AgentSummary(BaseModel):
    id: str
    name: str
    email: str
    role: Literal["agent", "admin"]


class AgentLoginAnswer(BaseModel):
    token: str = Field(description="bearer token for REST and /ws/agent")
    expires_at: str = Field(description="ISO 8601")
    agent: AgentSummary


class OperatorSummary(BaseModel):
    id: str
    email: str
    name: str


class OperatorLoginAnswer(BaseModel):
    token: str = Field(description="bearer token for the operator and admin routes")
    expires_at: str = Field(description="ISO 8601")
    operator: OperatorSummary


# -- routing and sites (server.routing.settings) --------------------------------------------


class RoutingBody(BaseModel):
    """A routing policy (``check_routing``)."""

    policy: Literal["manual", "round_robin", "least_loaded"]
    offer_timeout_secs: int = Field(default=30, ge=1, le=3600)


class Schedule(BaseModel):
    """Working hours (server.routing.hours.Schedule.parse): spans as ``["09:00", "17:30"]``."""

    tz: str = Field(description="IANA time zone, e.g. Europe/Berlin")
    days: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[list[str]]] = Field(
        default_factory=dict, description="day -> list of [start, end] (HH:MM)"
    )


class SiteHoursBody(BaseModel):
    """``set_site_hours``: hours null means always open."""

    hours: Schedule | None = None
    welcome_message: str | None = Field(default=None, max_length=1000)
    after_hours_message: str | None = Field(default=None, max_length=1000)


PrechatField = Literal["name", "email", "department"]


class PrechatBody(BaseModel):
    """``check_prechat``: every required field must also be in fields."""

    enabled: bool = False
    fields: list[PrechatField] = Field(default_factory=list)
    required: list[PrechatField] = Field(default_factory=list)


# -- agent tools (server.chat.canned, labels, rating) ----------------------------------------


class CannedReplyCreate(BaseModel):
    """``create_canned``: tenant-wide replies are for admins."""

    shortcut: str = Field(pattern=r"^/?[A-Za-z0-9_.-]{1,64}$")
    body: str = Field(min_length=1, max_length=4000)
    scope: Literal["personal", "tenant"] = "personal"


class CannedReplyUpdate(BaseModel):
    """``update_canned``: the fields given change."""

    shortcut: str | None = Field(default=None, pattern=r"^/?[A-Za-z0-9_.-]{1,64}$")
    body: str | None = Field(default=None, min_length=1, max_length=4000)


class CannedRender(BaseModel):
    conv: str = Field(min_length=1, description="the conversation whose details fill it")


class LabelBody(BaseModel):
    label: str = Field(min_length=1, max_length=50)


class RatingBody(BaseModel):
    """``check_rating``: once per closed conversation."""

    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=1000)
