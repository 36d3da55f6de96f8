"""The pre-chat form's required fields, enforced by the server (issue #21, item 3).

The widget asks for them before the first message; a client that skips the form (an old
widget, a stale form, a script) must not open a conversation without them either. The
visitor gives them through ``POST /api/v1/visitor/session`` (``name``, ``email``,
``department``); the check reads what is stored, when a conversation is about to open.
"""

from __future__ import annotations

import json

from server.errors import PrechatRequired
from server.storage.guard import TenantScope
from server.storage.models import Site, Visitor

FIELDS = ("name", "email", "department")


def required_fields(site: Site) -> list[str]:
    """The fields the site's pre-chat form requires now; none when the form is off."""
    try:
        form = json.loads(site.prechat) if site.prechat else {}
    except ValueError:
        return []
    if not isinstance(form, dict) or form.get("enabled") is not True:
        return []
    required = form.get("required")
    return [f for f in FIELDS if isinstance(required, list) and f in required]


def missing_fields(scope: TenantScope, site_id: str, visitor_id: str) -> list[str]:
    site = scope.get_or_none(Site, Site.id == site_id)
    required = required_fields(site) if site is not None else []
    if not required:
        return []
    visitor = scope.get_or_none(Visitor, Visitor.id == visitor_id)
    given = {
        "name": bool(visitor and (visitor.name or "").strip()),
        "email": bool(visitor and (visitor.email or "").strip()),
        "department": bool(visitor and visitor.department_id),
    }
    return [f for f in required if not given[f]]


def check_prechat(scope: TenantScope, site_id: str, visitor_id: str) -> None:
    """Refuse (``prechat_required``, naming the fields) to open a conversation while the
    site's pre-chat form has required fields this visitor has not given."""
    missing = missing_fields(scope, site_id, visitor_id)
    if missing:
        raise PrechatRequired(missing)
