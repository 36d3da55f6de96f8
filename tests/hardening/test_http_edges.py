"""Hostile edges of the HTTP side (issue #11, findings 5 and 6), against a real node.

Made-up methods and paths do not grow ``/metrics``; numbers out of range are 400/401,
never 500; HEAD works wherever GET does; HSTS is sent on everything served over TLS.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.clients import assert_error_response, login, visitor_session
from tests.support.http import http_client
from tests.support.server import REPO_ROOT, DemoTenant, ServerProcess, free_port

# One unknown method or path that made a series would show at once; 2,000 of each kind
# keep the proof at a fifth of the time 10,000 took (CI's time is a budget too).
HOSTILE_REQUESTS = 2_000
METRIC_FAMILIES = ("steadydesk_http_requests_total", "steadydesk_http_request_seconds")


def _series(text: str) -> set[str]:
    """Every sample line's name and labels (not its value) of the HTTP families."""
    return {
        line.rsplit(" ", 1)[0] for line in text.splitlines() if line.startswith(METRIC_FAMILIES)
    }


async def test_thousands_of_made_up_methods_and_paths_add_no_metric_series(
    server: ServerProcess,
) -> None:
    async with http_client(base_url=server.url, timeout=30) as http:
        # Every kind of answer once first, so the count below is at its ceiling.
        for method, path in (
            ("GET", "/nowhere"),
            ("BREW", "/nowhere"),
            ("BREW", "/api/healthz"),
            ("DELETE", "/api/healthz"),
            ("GET", "/api/healthz"),
            ("GET", "/metrics"),
        ):
            await http.request(method, path)
        before = _series((await http.get("/metrics")).text)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(HOSTILE_REQUESTS):
            queue.put_nowait(n)

        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                method = f"X{secrets.token_hex(4).upper()}{n}"
                path = f"/{secrets.token_hex(6)}/{n}" if n % 2 else "/api/healthz"
                response = await http.request(method, path)
                assert response.status_code in (400, 404, 405), response.text

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(16)))
        after_text = (await http.get("/metrics")).text
        took = time.monotonic() - started
    after = _series(after_text)
    assert after - before == set(), f"new series: {sorted(after - before)[:5]}"
    assert len(after_text) < 200_000
    print(f"{HOSTILE_REQUESTS} hostile requests in {took:.1f} s; {len(after)} series")


async def test_head_answers_like_get_without_a_body(
    server: ServerProcess, demo: DemoTenant
) -> None:
    async with http_client(base_url=server.url, timeout=10) as http:
        for path in ("/api/healthz", "/api/v1/openapi.json"):
            get, head = await http.get(path), await http.head(path)
            assert head.status_code == get.status_code == 200, (path, head.status_code)
            assert head.content == b""
            assert head.headers["content-type"] == get.headers["content-type"]
        refused = await http.head("/api/v1/me")  # the same checks as GET
        assert refused.status_code == 401 and refused.content == b""
        token = (await login(server, demo.agents[0]))["token"]
        allowed = await http.head("/api/v1/me", headers={"authorization": f"Bearer {token}"})
        assert allowed.status_code == 200 and allowed.content == b""
        still = await http.request("BREW", "/api/healthz")
        assert still.status_code in (400, 405)


@pytest.mark.parametrize(
    "query",
    ["after=99999999999999999999999", "after=-9223372036854775809", "limit=18446744073709551616"],
)
async def test_query_integers_out_of_range_are_400(
    server: ServerProcess, demo: DemoTenant, query: str
) -> None:
    token = (await login(server, demo.agents[0]))["token"]
    async with http_client(base_url=server.url, timeout=10) as http:
        response = await http.get(
            f"/api/v1/conversations/01HZZZZZZZZZZZZZZZZZZZZZZZ/messages?{query}",
            headers={"authorization": f"Bearer {token}"},
        )
    assert_error_response(response, 400, "bad_request")


@pytest.mark.parametrize(
    "user_ts",
    [1e400, -1e400, 10**400, "1e400", float("nan")],
    ids=["1e400", "-1e400", "10^400", "string", "nan"],
)
async def test_an_absurd_user_ts_is_401_bad_user_hash(
    server: ServerProcess, demo: DemoTenant, user_ts: object
) -> None:
    body = f'{{"site_key": "{demo.site_key}", "user_id": "u", "user_hash": "00", '
    body += f'"user_ts": {user_ts if not isinstance(user_ts, str) else repr(user_ts)}}}'
    body = body.replace("'", '"').replace("inf", "1e400").replace("nan", "NaN")
    async with http_client(base_url=server.url, timeout=10) as http:
        response = await http.post(
            "/api/v1/visitor/session", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code in (400, 401), response.text
    assert_error_response(response)


async def test_hsts_is_sent_when_a_trusted_proxy_says_https(server_factory) -> None:  # type: ignore[no-untyped-def]
    node: ServerProcess = server_factory({"STEADY_TRUSTED_PROXIES": "127.0.0.1"})
    async with http_client(base_url=node.url, timeout=10) as http:
        secure = await http.get("/api/healthz", headers={"x-forwarded-proto": "https"})
        plain = await http.get("/api/healthz")
    assert secure.headers.get("strict-transport-security", "").startswith("max-age=")
    assert "strict-transport-security" not in plain.headers


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_hsts_is_sent_when_serving_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    env.update(
        {
            "STEADY_DATA_DIR": str(tmp_path / "data"),
            "STEADY_TLS_CERT": str(cert),
            "STEADY_TLS_KEY": str(key),
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    with open(tmp_path / "tls.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(
                    f"https://127.0.0.1:{port}/api/healthz",
                    verify=False,
                    timeout=2,
                    trust_env=False,
                )
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "tls.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the TLS node did not answer in 20 s"
                time.sleep(0.2)
        assert response.status_code == 200
        assert re.fullmatch(r"max-age=\d+.*", response.headers["strict-transport-security"])
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_visitor_session_survives_hostile_numbers(server: ServerProcess) -> None:
    response = await visitor_session(server, user_id="u", user_hash="00", user_ts=2**70)
    assert_error_response(response, 401)
