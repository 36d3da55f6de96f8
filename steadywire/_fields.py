"""Field readers shared by the frame classes: each returns the value or raises BadFrame."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from steadywire.errors import BadFrame

_MISSING: Any = object()
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what the server's database columns hold


def text(
    raw: Mapping[str, Any],
    key: str,
    *,
    default: str | None = _MISSING,
    max_len: int | None = None,
    min_len: int = 0,
) -> str:
    value = raw.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise BadFrame(f"{key} is required", raw)
        return default  # type: ignore[return-value]
    if not isinstance(value, str):
        raise BadFrame(f"{key} must be a string", raw)
    if len(value) < min_len or (max_len is not None and len(value) > max_len):
        raise BadFrame(f"{key} must be {min_len} to {max_len} characters", raw)
    return value


def optional_text(raw: Mapping[str, Any], key: str, *, max_len: int | None = None) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    return text(raw, key, max_len=max_len)


def integer(
    raw: Mapping[str, Any], key: str, *, default: int | None = _MISSING, minimum: int | None = None
) -> int:
    value = raw.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise BadFrame(f"{key} is required", raw)
        return default  # type: ignore[return-value]
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadFrame(f"{key} must be an integer", raw)
    if not INT64_MIN <= value <= INT64_MAX:
        raise BadFrame(f"{key} must be a 64-bit integer", raw)
    if minimum is not None and value < minimum:
        raise BadFrame(f"{key} must be at least {minimum}", raw)
    return value


def boolean(raw: Mapping[str, Any], key: str, *, default: bool | None = _MISSING) -> bool:
    value = raw.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise BadFrame(f"{key} must be true or false", raw)
        return default  # type: ignore[return-value]
    if not isinstance(value, bool):
        raise BadFrame(f"{key} must be true or false", raw)
    return value


def mapping(raw: Mapping[str, Any], key: str, *, required: bool = False) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        if required:
            raise BadFrame(f"{key} is required", raw)
        return {}
    if not isinstance(value, dict):
        raise BadFrame(f"{key} must be an object", raw)
    return value


def sequence(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadFrame(f"{key} must be a list", raw)
    return value


def choice(
    raw: Mapping[str, Any], key: str, allowed: frozenset[str], *, default: str | None
) -> str:
    value = text(raw, key, default=default)
    if value not in allowed:
        raise BadFrame(f"{key} must be one of {', '.join(sorted(allowed))}", raw)
    return value


def drop_none(wire: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wire.items() if v is not None}
