"""The OpenAPI document: public, lists every /api route with its methods, documents the
bearer and signed-request security schemes and the admin write routes' request bodies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.admin.conftest import call
from tests.admin.routes import api_routes
from tests.support.server import ServerProcess

WRITE_ROUTES_WITH_BODY = {
    ("post", "/api/v1/sites"),
    ("patch", "/api/v1/sites/{site_key}"),
    ("post", "/api/v1/agents"),
    ("patch", "/api/v1/agents/{agent_id}"),
    ("post", "/api/v1/agents/{agent_id}/password"),
    ("post", "/api/v1/departments"),
    ("patch", "/api/v1/departments/{department_id}"),
    ("put", "/api/v1/settings"),
    ("post", "/api/v1/api-keys"),
    ("post", "/api/v1/bridges"),
    ("post", "/api/v1/bridges/links"),
    ("post", "/api/v1/visitor/session"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/operator/login"),
    ("post", "/api/v1/operators/{operator_id}/password"),
    ("put", "/api/v1/routing/default"),
    ("put", "/api/v1/sites/{site}/hours"),
    ("put", "/api/v1/sites/{site}/prechat"),
    ("post", "/api/v1/canned-replies"),
    ("post", "/api/v1/visitor/conversations/{conv}/rating"),
    ("post", "/api/v1/knowledge/articles"),
    ("patch", "/api/v1/knowledge/articles/{article_id}"),
}
BODY_METHODS = {"POST", "PUT", "PATCH"}


@pytest.fixture(scope="module")
def spec_and_routes(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import httpx

    resp = httpx.get(server.url + "/api/v1/openapi.json", timeout=10, trust_env=False)
    assert resp.status_code == 200, resp.text
    return resp.json(), api_routes(Path(tmp_path_factory.mktemp("oas-routes")))


def test_the_document_lists_every_api_route(spec_and_routes: Any) -> None:
    spec, routes = spec_and_routes
    assert spec["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    missing = [
        f"{r.method} {r.openapi_path}" for r in routes
        if r.path != "/api/v1/openapi.json" and (r.method, r.openapi_path) not in documented
    ]
    assert not missing, f"routes missing from openapi.json: {missing}"
    assert not [p for p in spec["paths"] if not p.startswith("/api/")], "non-API paths listed"


def test_security_schemes_and_bodies(spec_and_routes: Any) -> None:
    spec, routes = spec_and_routes
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"].lower() == "bearer"
    assert schemes["signedRequest"]["type"] == "apiKey"
    assert schemes["signedRequest"]["name"] == "X-Steady-Key"
    for route in routes:
        operation = spec["paths"].get(route.openapi_path, {}).get(route.method.lower())
        if operation is None or route.access == "public":
            continue
        security = operation.get("security") or []
        assert {"bearer": []} in security, f"{route.method} {route.path} lacks bearer security"
        if route.access in ("agent", "admin"):
            assert {"signedRequest": []} in security
    for method, path in WRITE_ROUTES_WITH_BODY:
        body = spec["paths"][path][method].get("requestBody")
        assert body and body["required"], f"{method} {path} has no request body"
        schema = body["content"]["application/json"]["schema"]
        assert schema["type"] == "object" and schema["properties"], (method, path)
    settings = spec["paths"]["/api/v1/settings"]["put"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert settings["properties"]["masking"]["$ref"] == "#/components/schemas/Masking"
    assert "cards" in spec["components"]["schemas"]["Masking"]["properties"]
    summaries = [op.get("summary") for ops in spec["paths"].values() for op in ops.values()]
    assert all(summaries), "every operation has a summary (the handler's docstring)"


async def test_openapi_needs_no_login_and_adds_no_cors(server: ServerProcess) -> None:
    resp = await call(server, "GET", "/api/v1/openapi.json", headers={"Origin": "https://x.test"})
    assert resp.status_code == 200
    assert "access-control-allow-origin" not in resp.headers
    preflight = await call(server, "OPTIONS", "/api/v1/sites",
                           headers={"Origin": "https://x.test",
                                    "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers


def _write_handlers(data_dir: Path) -> list[tuple[str, str, Any]]:
    """(method, OpenAPI path, handler) of every /api write route that may carry a body."""
    from server.app import create_app
    from server.config import load_settings
    from tests.admin.routes import PARAM

    app = create_app(load_settings(data_dir=data_dir))
    try:
        found = []
        for route in app.router.routes:
            path = "/" + route.path.lstrip("/")
            if not path.startswith("/api/"):
                continue
            openapi_path = PARAM.sub(lambda m: "{" + m.group(1) + "}", path)
            found += [(m, openapi_path, route.handler) for m in route.methods & BODY_METHODS]
        return found
    finally:
        app.ctx.services.store.close()


def test_every_route_that_takes_a_body_has_a_request_schema(
    spec_and_routes: Any, tmp_path: Path
) -> None:
    """A POST, PUT or PATCH documents its JSON body, or its handler declares ``no_body``
    (and then reads none: the guard below looks at the handler's own code)."""
    import inspect

    from server.gateway.openapi import NO_BODY_ATTR

    spec, _ = spec_and_routes
    problems = []
    handlers = _write_handlers(tmp_path)
    assert len(handlers) >= 30, "the write routes were not found"
    for method, path, handler in handlers:
        operation = spec["paths"][path][method.lower()]
        body = operation.get("requestBody")
        if getattr(handler, NO_BODY_ATTR, False):
            source = inspect.getsource(handler)
            if body or any(read in source for read in ("request.json", "request.body",
                                                      "body(request)")):
                problems.append(f"{method} {path} declares no_body but has or reads one")
            continue
        if not body:
            problems.append(f"{method} {path}: no requestBody (document it or mark no_body)")
            continue
        content = body["content"]
        schema = (content.get("application/json") or content["multipart/form-data"])["schema"]
        if schema.get("type") != "object" or not schema.get("properties"):
            problems.append(f"{method} {path}: the body schema names no properties")
    assert not problems, "\n".join(problems)


def test_sessions_and_logins_are_described_with_their_answers(spec_and_routes: Any) -> None:
    spec, _ = spec_and_routes
    paths, schemas = spec["paths"], spec["components"]["schemas"]

    def request(path: str) -> dict[str, Any]:
        return dict(paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"])

    def answer(path: str) -> dict[str, Any]:
        schema = paths[path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
        return dict(schema)

    session = request("/api/v1/visitor/session")
    assert session["required"] == ["site_key"]
    assert {"token", "user_id", "user_hash", "user_ts", "name", "email", "page_url",
            "referrer", "language", "department"} <= set(session["properties"])
    assert set(answer("/api/v1/visitor/session")["properties"]) == {
        "visitor_id", "token", "expires_at", "conversation"}
    login = request("/api/v1/auth/login")
    assert set(login["required"]) == {"tenant", "email", "password"}
    agent = answer("/api/v1/auth/login")["properties"]["agent"]
    assert agent["$ref"] == "#/components/schemas/AgentSummary"
    assert set(schemas["AgentSummary"]["properties"]) == {"id", "name", "email", "role"}
    assert set(request("/api/v1/operator/login")["required"]) == {"email", "password"}
    assert "operator" in answer("/api/v1/operator/login")["properties"]
    # The signed-request scheme says what is signed, the body's exact bytes included.
    signed = spec["components"]["securitySchemes"]["signedRequest"]["description"]
    assert "hex(sha256(body))" in signed and "X-Steady-Signature" in signed
    assert "byte for byte" in spec["info"]["description"]
