"""Untrusted JSON in, a validated pydantic model out; failures are 400 with the first reason."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from server.errors import BadRequest
from server.times import iso_time

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: object) -> M:
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise BadRequest(first_error(err)) from None


def first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = str(first.get("msg", "invalid"))
    return f"{where}: {message}" if where else message


def iso(value: dt.datetime | None) -> str | None:
    return iso_time(value)


def parse_time(name: str, raw: str | None) -> dt.datetime | None:
    """ISO 8601 (``Z`` or offset) or unix seconds, as naive UTC like the stored columns."""
    if raw is None or raw == "":
        return None
    try:
        if raw.replace(".", "", 1).isdigit():
            return dt.datetime.fromtimestamp(float(raw), dt.UTC).replace(tzinfo=None)
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if value.tzinfo is not None:  # may leave the year range: year 1 at +01:00
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):  # OSError: fromtimestamp beyond the C range
        raise BadRequest(f"{name} must be ISO 8601 or unix seconds") from None
    return value


def changed(before: dict[str, Any], after: dict[str, Any], asked: dict[str, Any]) -> dict[str, Any]:
    """For the audit: ``{field: [old, new]}`` of the fields a request set that did change."""
    return {k: [before.get(k), after.get(k)] for k in asked if before.get(k) != after.get(k)}
