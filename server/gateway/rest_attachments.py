"""Attachments over HTTP (docs/protocol.md "Attachments (v1.1)"): upload, a fresh URL, and
the bytes behind a signed URL, served so that a browser can never run them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sanic import Blueprint, Request, json
from sanic.exceptions import PayloadTooLarge
from sanic.response import HTTPResponse, empty, raw

from server.admin.auth import api_key_actor
from server.admin.bridges import acting_agent
from server.chat.attachment_content import TooLarge, is_inline_image
from server.chat.attachments import AttachmentService
from server.errors import BadRequest, ErrorCode, Unauthorized, Unavailable
from server.foundation.settings import ATTACHMENT_MAX_BYTES_CEILING
from server.gateway.auth import require_participant
from server.gateway.context import Services
from server.gateway.http import allow_cross_origin
from server.gateway.openapi import multipart_body
from server.security.attachment_links import ExpiredUrl

# A multipart envelope around the file: boundaries, headers, the conv field.
MULTIPART_OVERHEAD = 16 * 1024
ID_MAX_CHARS = 64
# What a browser may do with the served bytes: nothing (no script, no fetch, no frame).
CONTENT_CSP = "default-src 'none'; sandbox"


def _service(services: Services) -> AttachmentService:
    if services.chat.attachments is None:
        raise Unavailable("attachments are not configured on this node")
    return services.chat.attachments


def _preflight(methods: str) -> HTTPResponse:
    response = empty(status=204)
    response.headers["Access-Control-Allow-Methods"] = methods
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _cors(request: Request, answer: dict[str, Any], status: int = 200) -> HTTPResponse:
    # The widget uploads from the tenant's site with a bearer token (no cookies): reading
    # the answer cross-origin grants nothing the token did not already.
    response = json(answer, status=status)
    allow_cross_origin(request, response)
    return response


async def _read_body(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise TooLarge(f"the file is larger than {limit} bytes")
    if request.stream is not None:
        request.stream.request_max_size = limit + MULTIPART_OVERHEAD
    try:
        await request.receive_body()
    except PayloadTooLarge:
        raise TooLarge(f"the file is larger than {limit} bytes") from None


def content_disposition(name: str, inline: bool) -> str:
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def build_attachments_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_attachments", url_prefix="/api/v1")

    @bp.options("/attachments", ctx_access="public")
    async def preflight_attachments(request: Request) -> HTTPResponse:
        """CORS preflight for the widget's upload."""
        return _preflight("POST")

    @bp.post("/attachments", ctx_access="participant", ctx_bridge=True, stream=True)
    @multipart_body({"conv": "string", "file": "binary", "as": "string"})
    async def post_attachment(request: Request) -> HTTPResponse:
        """Upload a file (multipart: conv, file; a bridge adds as, the agent it acts as) for a
        message to name; 201 with its id and a short-lived URL. 413 too_large,
        415 type_not_allowed, 403 for a conversation the caller may not write."""
        attachments = _service(services)
        if "x-steady-key" in request.headers:
            # A signed request signs its body: read it (up to the largest limit a tenant
            # may set) before checking the signature, but only for a live key's id, so an
            # unknown caller cannot make the node read 50 MB.
            key = request.headers.get("x-steady-key", "")
            if await services.store.run(api_key_actor, key) is None:
                raise Unauthorized("unknown or revoked API key", code=ErrorCode.BAD_SIGNATURE)
            await _read_body(request, ATTACHMENT_MAX_BYTES_CEILING)
            actor = await require_participant(services, request)
        else:
            actor = await require_participant(services, request)  # before reading the body
            await _read_body(request, await attachments.max_bytes(actor.tenant_id))
        if actor.is_bridge:
            # A bridge uploads as the agent it will send as (form field "as"), so that the
            # send naming the upload is the uploader's own (docs/bridges.md).
            acting_as = request.form.get("as") if request.form else None
            if not acting_as:
                raise BadRequest("a bridge names the agent it uploads as (form field 'as')")
            actor = await services.store.run(acting_agent, actor, acting_as)
        upload = request.files.get("file") if request.files else None
        if upload is None:
            raise BadRequest("send the file as the multipart field 'file'")
        conv = (request.form.get("conv") or "") if request.form else ""
        answer = await attachments.upload(
            actor, conv[:ID_MAX_CHARS] or None, upload.body, upload.name or "file"
        )
        return _cors(request, answer, status=201)

    @bp.options("/attachments/<attachment_id:str>", ctx_access="public")
    async def preflight_attachment(request: Request, attachment_id: str) -> HTTPResponse:
        """CORS preflight for the widget's request for a fresh URL."""
        return _preflight("GET")

    @bp.get("/attachments/<attachment_id:str>", ctx_access="participant", ctx_bridge=True)
    async def get_attachment(request: Request, attachment_id: str) -> HTTPResponse:
        """An attachment's metadata with a fresh URL signed for the caller (a participant
        of its conversation)."""
        actor = await require_participant(services, request)
        answer = await _service(services).fresh(actor, attachment_id[:ID_MAX_CHARS])
        return _cors(request, answer)

    @bp.get("/attachments/<attachment_id:str>/content", ctx_access="signed_url")
    async def get_attachment_content(request: Request, attachment_id: str) -> HTTPResponse:
        """The bytes, for the holder of a URL from an upload, a message or a fresh URL
        (query t, p, e, s); 403 expired_url when altered or expired."""
        args = {name: request.args.get(name, "") for name in ("t", "p", "e", "s")}
        if not all(args.values()):
            raise ExpiredUrl("this attachment URL is not valid")
        found = await _service(services).content(
            attachment_id[:ID_MAX_CHARS], args["t"], args["p"], args["e"], args["s"]
        )
        inline = is_inline_image(found.mime)
        return raw(
            found.data,
            content_type=found.mime,
            headers={
                "Content-Disposition": content_disposition(found.name, inline),
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": CONTENT_CSP,
                "Cache-Control": "private, max-age=300",
                "Cross-Origin-Resource-Policy": "cross-origin",  # the widget's <img>
                "Referrer-Policy": "no-referrer",
            },
        )

    return bp
