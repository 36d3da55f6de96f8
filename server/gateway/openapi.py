"""The OpenAPI document at ``/api/v1/openapi.json``, built by sanic-ext's OpenAPI extension
alone (the app keeps ``AUTO_EXTEND`` off: no CORS, auto OPTIONS/HEAD, injection or
validation from sanic-ext).

sanic-ext's own Swagger/Redoc pages load their scripts from a CDN, and a Steadydesk node
calls out to nothing: the reference page at ``/docs/api`` (server.gateway.api_docs) serves
Swagger UI from the ``swagger-ui-bundle`` package instead.

Every write route documents its JSON body (``request_body``) or declares it takes none
(``no_body``); tests/admin/test_openapi.py holds every route to one of the two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from sanic import Sanic
from sanic_ext import Extend
from sanic_ext.extensions.openapi import openapi
from sanic_ext.extensions.openapi.builders import OperationStore, SpecificationBuilder
from sanic_ext.extensions.openapi.extension import OpenAPIExtension

from server import __version__

OPENAPI_PATH = "/api/v1/openapi.json"
BEARER = "bearer"
SIGNED = "signedRequest"

_SIGNED_HELP = (
    "A tenant backend's signed request (PROTOCOL §3): X-Steady-Key (this scheme) plus "
    "X-Steady-Timestamp, X-Steady-Nonce and X-Steady-Signature = hex(HMAC-SHA256(api_secret, "
    '"v1:" + timestamp + ":" + nonce + ":" + METHOD + ":" + path_with_query + ":" + '
    "hex(sha256(body))))."
)


_DESCRIPTION = (
    "REST API of Steadydesk (see PROTOCOL.md and docs/admin-api.md). Visitors get a "
    "token from POST /api/v1/visitor/session, agents and admins from POST /api/v1/auth/login, "
    "platform operators from POST /api/v1/operator/login; send it as "
    "`Authorization: Bearer <token>`. A tenant's backend may instead sign each request "
    "with an API key (the signedRequest scheme): the signature covers the method, the path "
    "with its query and the SHA-256 of the exact body bytes sent, so send the JSON "
    "you signed byte for byte. Errors are "
    '`{"error": {"code": "<snake_case>", "message": "..."}}`.'
)


F = TypeVar("F", bound=Callable[..., Any])
_BODY_ATTR = "__steady_request_body__"
_ANSWER_ATTR = "__steady_response_body__"
NO_BODY_ATTR = "__steady_no_body__"
_FILES_ATTR = "__steady_multipart_files__"


def request_body(model: type[BaseModel]) -> Callable[[F], F]:
    """Document a handler's JSON body with the pydantic model its action validates with.

    Only marks the function (no wrapper, no validation): ``install_openapi`` reads the mark.
    """

    def mark(func: F) -> F:
        setattr(func, _BODY_ATTR, model)
        return func

    return mark


def response_body(model: type[BaseModel], status: int = 200) -> Callable[[F], F]:
    """Document a handler's JSON answer (a mark read by ``install_openapi``, like
    ``request_body``)."""

    def mark(func: F) -> F:
        setattr(func, _ANSWER_ATTR, (status, model))
        return func

    return mark


def query_filters(filters: dict[str, type]) -> Callable[[F], F]:
    """Document a list route's query filters (name → type) with one decorator, in the
    order given, instead of a stack of ``openapi.parameter`` lines per route."""

    def decorate(func: F) -> F:
        for name, kind in reversed(filters.items()):  # as stacked decorators would apply
            func = openapi.parameter(name, kind)(func)
        return func

    return decorate


def multipart_files(field: str, description: str) -> Callable[[F], F]:
    """Document a handler whose body is ``multipart/form-data`` with files in ``field``."""

    def mark(func: F) -> F:
        setattr(func, _FILES_ATTR, (field, description))
        return func

    return mark


def no_body(func: F) -> F:
    """Declare that a write handler reads no body (its path and token say it all)."""
    setattr(func, NO_BODY_ATTR, True)
    return func


class SteadyOpenAPI(OpenAPIExtension):
    """sanic-ext's OpenAPI extension, labelled with the JSON's path in the startup banner
    (the stock label asks for the UI's index route, which does not exist without a UI)."""

    name = "steadyopenapi"

    def label(self) -> str:
        return OPENAPI_PATH


def install_openapi(app: Sanic) -> None:
    """Call after every blueprint is registered."""
    app.config.update(
        {
            "OAS_URL_PREFIX": OPENAPI_PATH,  # the JSON route is the prefix itself
            "OAS_URI_TO_JSON": "",
            "OAS_UI_REDOC": False,
            "OAS_UI_SWAGGER": False,
            "OAS_UI_DEFAULT": None,
            "OAS_IGNORE_HEAD": True,
            "OAS_IGNORE_OPTIONS": False,  # only explicit ones exist: the CORS preflight
            "API_TITLE": "Steadydesk API",
            "API_VERSION": __version__,
            "API_DESCRIPTION": _DESCRIPTION,
        }
    )
    _document_security(app)
    Extend(app, built_in_extensions=False, extensions=[SteadyOpenAPI])
    for route in app.router.routes:
        if "/" + route.path.lstrip("/") == OPENAPI_PATH:
            route.ctx.access = "public"


def _document_security(app: Sanic) -> None:
    spec: Any = SpecificationBuilder()
    spec.add_security_scheme(
        BEARER,
        "http",
        description=(
            "Agent token from /api/v1/auth/login, visitor token from /api/v1/visitor/session, "
            "or a bridge token from POST /api/v1/bridges (docs/bridges.md)."
        ),
    )
    spec.add_security_scheme(
        SIGNED, "apiKey", location="header", name="X-Steady-Key", description=_SIGNED_HELP
    )
    store = OperationStore()
    for route in app.router.routes:
        operation = store[route.handler]
        if not route.path.startswith("api/"):
            operation.exclude()  # WebSockets, metrics and the widget are not REST
            continue
        model = getattr(route.handler, _BODY_ATTR, None)
        if model is not None:
            operation.requestBody = {
                "required": True,
                "content": {"application/json": {"schema": _schema(spec, model)}},
            }
        files = getattr(route.handler, _FILES_ATTR, None)
        if files is not None:
            field, description = files
            item = {"type": "string", "format": "binary"}
            schema = {
                "type": "object",
                "properties": {field: {"type": "array", "items": item, "description": description}},
                "required": [field],
            }
            operation.requestBody = {
                "required": True,
                "content": {"multipart/form-data": {"schema": schema}},
            }
        answer = getattr(route.handler, _ANSWER_ATTR, None)
        if answer is not None:
            status, answer_model = answer
            operation.responses[str(status)] = {
                "description": (answer_model.__doc__ or "").strip() or "OK",
                "content": {"application/json": {"schema": _schema(spec, answer_model)}},
            }
        access = getattr(route.ctx, "access", None)
        if access in ("agent", "admin", "operator"):
            if not operation.security:
                operation.secured({BEARER: []})
                operation.secured({SIGNED: []})
        elif access in ("visitor", "bridge", "agent_self", "ai_bridge") and not operation.security:
            operation.secured({BEARER: []})


def _schema(spec: Any, model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema; nested models become components (OpenAPI 3.0 has no $defs)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, nested in schema.pop("$defs", {}).items():
        spec.add_component("schemas", name, nested)
    return schema
