"""Sanic's router, answering HEAD wherever GET is served (RFC 9110 §9.3.2).

Sanic routes HEAD only to handlers that name it, so ``HEAD /api/healthz`` was 405. Here a
HEAD that finds no route of its own runs the GET route, with the same access checks;
Sanic's HTTP layer sends the headers without the body.
"""

from __future__ import annotations

from typing import Any

from sanic.exceptions import MethodNotAllowed
from sanic.router import Router


class HeadAsGetRouter(Router):
    def _get(self, path: str, method: str, host: str | None) -> Any:
        try:
            return super()._get(path, method, host)
        except MethodNotAllowed:
            if method != "HEAD":
                raise
            return super()._get(path, "GET", host)
