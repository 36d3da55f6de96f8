"""Health, metrics and transport rules over real HTTP against a real node."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.redis_server import PrivateRedis
from tests.support.server import ServerProcess


def _error(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return body["error"]


def test_health_reports_each_part(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/api/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {
        "database": "OK",
        "redis": "n/a",
        "websocket": "OK",
        "version": response.json()["version"],
    }


def test_unknown_route_and_wrong_method_have_the_error_shape(server: ServerProcess) -> None:
    missing = httpx.get(server.url + "/api/v1/nothing-here", timeout=10)
    assert missing.status_code == 404 and _error(missing)["code"] == "not_found"
    wrong = httpx.delete(server.url + "/api/healthz", timeout=10)
    assert wrong.status_code == 405 and _error(wrong)["code"] == "method_not_allowed"
    broken = httpx.post(
        server.url + "/api/v1/auth/login",
        content=b"{not json",
        timeout=10,
        headers={"content-type": "application/json"},
    )
    assert broken.status_code == 400 and "Traceback" not in broken.text
    _error(broken)


def test_metrics_are_served_to_loopback_in_prometheus_format(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for name in (
        "steadydesk_ws_connections",
        "steadydesk_commit_batch_size",
        "steadydesk_ack_seconds",
    ):
        assert name in response.text


def test_metrics_are_refused_elsewhere_without_the_token(server_factory) -> None:  # type: ignore[no-untyped-def]
    node: ServerProcess = server_factory(
        {"STEADY_METRICS_ALLOW": "192.0.2.1", "STEADY_METRICS_TOKEN": "s3cret-metrics-token"}
    )
    refused = httpx.get(node.url + "/metrics", timeout=10)
    assert refused.status_code == 403 and _error(refused)["code"] == "forbidden"
    wrong = httpx.get(node.url + "/metrics", headers={"authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 403
    allowed = httpx.get(
        node.url + "/metrics", headers={"authorization": "Bearer s3cret-metrics-token"}, timeout=10
    )
    assert allowed.status_code == 200 and "steadydesk_" in allowed.text


def test_plain_http_from_a_proxy_is_refused_unless_it_says_https(server_factory) -> None:  # type: ignore[no-untyped-def]
    node: ServerProcess = server_factory({"STEADY_TRUSTED_PROXIES": "127.0.0.1"})
    demo = node.run_demo()
    body = {"site_key": demo.site_key}
    plain = httpx.post(node.url + "/api/v1/visitor/session", json=body, timeout=10)
    assert plain.status_code == 403 and _error(plain)["code"] == "https_required"
    secure = httpx.post(
        node.url + "/api/v1/visitor/session",
        json=body,
        timeout=10,
        headers={"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9"},
    )
    assert secure.status_code == 200
    # Load balancers probe health over plain HTTP.
    assert httpx.get(node.url + "/api/healthz", timeout=10).status_code == 200


@pytest.mark.redis
def test_health_names_redis_when_it_goes_down(server_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    try:
        node: ServerProcess = server_factory({"STEADY_REDIS_URL": redis.url})
        up = httpx.get(node.url + "/api/healthz", timeout=10)
        assert up.status_code == 200 and up.json()["redis"] == "OK"
        redis.stop()
        down = httpx.get(node.url + "/api/healthz", timeout=10)
        assert down.status_code == 503
        assert down.json()["redis"] == "DOWN" and down.json()["database"] == "OK"
    finally:
        redis.stop()
