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
}


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
