"""Every HTTP failure becomes the PROTOCOL §3 error shape; internals are logged, not returned."""

from __future__ import annotations

import logging

from sanic import Request, json
from sanic.exceptions import RequestCancelled, SanicException
from sanic.handlers import ErrorHandler
from sanic.response import HTTPResponse

from server.errors import ErrorCode, SteadyError

log = logging.getLogger("steadydesk.http")

_SANIC_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.UNAVAILABLE,
}


def error_response(code: str, message: str, status: int) -> HTTPResponse:
    return json({"error": {"code": code, "message": message}}, status=status)


class JsonErrorHandler(ErrorHandler):
    def default(self, request: Request, exception: Exception) -> HTTPResponse:
        if isinstance(exception, SteadyError):
            return error_response(str(exception.code), exception.message, exception.http_status)
        if isinstance(exception, SanicException) and exception.status_code < 500:
            status = exception.status_code
            code = _SANIC_CODES.get(status, ErrorCode.BAD_REQUEST)
            return error_response(str(code), _public_message(status), status)
        if isinstance(exception, RequestCancelled):
            # The client went away mid-request: nobody to answer, nothing went wrong here.
            return error_response(str(ErrorCode.BAD_REQUEST), "request cancelled", 499)
        request_id = str(getattr(request, "id", "")) if request is not None else ""
        log.error("unhandled error (request %s)", request_id, exc_info=exception)
        return error_response(
            str(ErrorCode.INTERNAL), f"internal error (request id {request_id})", 500
        )


def _public_message(status: int) -> str:
    return {
        400: "bad request",
        401: "authentication required",
        403: "forbidden",
        404: "no such resource",
        405: "method not allowed",
        413: "request too large",
        429: "too many requests",
        503: "service unavailable",
    }.get(status, "request failed")
