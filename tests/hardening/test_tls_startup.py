"""TLS at start-up (issue #21, item 1): ``STEADY_TLS_CERT``/``STEADY_TLS_KEY`` are checked
before the node serves, each problem in one line and exit 3 (never Sanic's traceback), and
a good pair serves a whole ``wss://`` chat that the client verifies against its own CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect

from tests.support.clients import WsClient
from tests.support.server import REPO_ROOT, ServerError, ServerProcess, _base_env

EXIT_STARTUP = 3
NOW = dt.datetime.now(dt.UTC)


class Pki:
    """A private CA and the certificates it (or no one) signs, written as PEM files."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "steadytest CA")])
        self.ca_name = name
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_path = directory / "ca.pem"
        self.ca_path.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))

    def leaf(
        self,
        stem: str,
        *,
        san: bool = True,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(self.ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or NOW - dt.timedelta(minutes=5))
            .not_valid_after(not_after or NOW + dt.timedelta(days=1))
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        cert = builder.sign(self.ca_key, hashes.SHA256())
        cert_path, key_path = self.dir / f"{stem}.crt", self.dir / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        return cert_path, key_path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))


def _serve(tmp: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = _base_env()
    full.update({"STEADY_DATA_DIR": str(tmp / "data"), **env})
    cmd = [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", "9"]
    return subprocess.run(
        cmd, cwd=REPO_ROOT, env=full, capture_output=True, text=True, timeout=60, check=False
    )


def _missing(pki: Pki) -> dict[str, str]:
    _, key = pki.leaf("good")
    return {"STEADY_TLS_CERT": str(pki.dir / "nowhere.crt"), "STEADY_TLS_KEY": str(key)}


def _not_pem(pki: Pki) -> dict[str, str]:
    _, key = pki.leaf("good")
    junk = pki.dir / "junk.crt"
    junk.write_text("this is not a certificate\n")
    return {"STEADY_TLS_CERT": str(junk), "STEADY_TLS_KEY": str(key)}


def _wrong_key(pki: Pki) -> dict[str, str]:
    cert, _ = pki.leaf("one")
    _, other_key = pki.leaf("two")
    return {"STEADY_TLS_CERT": str(cert), "STEADY_TLS_KEY": str(other_key)}


def _expired(pki: Pki) -> dict[str, str]:
    cert, key = pki.leaf(
        "old", not_before=NOW - dt.timedelta(days=30), not_after=NOW - dt.timedelta(days=1)
    )
    return {"STEADY_TLS_CERT": str(cert), "STEADY_TLS_KEY": str(key)}


def _not_yet(pki: Pki) -> dict[str, str]:
    cert, key = pki.leaf("future", not_before=NOW + dt.timedelta(days=1))
    return {"STEADY_TLS_CERT": str(cert), "STEADY_TLS_KEY": str(key)}


def _no_san(pki: Pki) -> dict[str, str]:
    cert, key = pki.leaf("nosan", san=False)
    return {"STEADY_TLS_CERT": str(cert), "STEADY_TLS_KEY": str(key)}


def _cert_only(pki: Pki) -> dict[str, str]:
    cert, _ = pki.leaf("good")
    return {"STEADY_TLS_CERT": str(cert)}


BAD_PAIRS: dict[str, tuple[Callable[[Pki], dict[str, str]], str]] = {
    "unreadable": (_missing, "nowhere.crt is not readable: No such file"),
    "not_pem": (_not_pem, "junk.crt is not a PEM certificate"),
    "key_mismatch": (_wrong_key, "two.key is not the key of the certificate"),
    "expired": (_expired, "old.crt expired on"),
    "not_yet_valid": (_not_yet, "future.crt is not valid before"),
    "no_san": (_no_san, "nosan.crt has no subjectAltName"),
    "cert_without_key": (_cert_only, "STEADY_TLS_CERT is set but STEADY_TLS_KEY is not"),
}


@pytest.mark.parametrize("case", sorted(BAD_PAIRS))
def test_a_bad_tls_pair_stops_the_node_with_one_line_and_exit_3(
    case: str, tmp_path: Path
) -> None:
    make, expected = BAD_PAIRS[case]
    done = _serve(tmp_path, make(Pki(tmp_path)))
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == EXIT_STARTUP, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("steadydesk: cannot start: "), lines[0]
    assert expected in lines[0], lines[0]


class TlsServer(ServerProcess):
    """A node serving HTTPS/WSS itself; clients trust only the test's CA."""

    def __init__(self, data_dir: Path, pki: Pki) -> None:
        cert, key = pki.leaf("node")
        super().__init__(
            data_dir,
            f"sqlite:///{data_dir / 'steadydesk.db'}",
            env={"STEADY_TLS_CERT": str(cert), "STEADY_TLS_KEY": str(key)},
            name="tls",
        )
        self.tls = pki.client_context()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"wss://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0, trust_env=False, verify=self.tls) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise ServerError(f"TLS node exited {self.proc.returncode}\n{self.log_tail()}")
                try:
                    if client.get(f"{self.url}/api/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        raise ServerError(f"TLS node not ready in {timeout}s\n{self.log_tail()}")

    async def ws(self, path: str, label: str) -> WsClient:
        raw = await connect(
            self.ws_url + path, ssl=self.tls, open_timeout=5, ping_interval=None,
            close_timeout=2, proxy=None,
        )
        return WsClient(raw, label=label)


async def test_a_good_pair_serves_a_wss_chat_end_to_end(tmp_path: Path) -> None:
    node = TlsServer(tmp_path / "node", Pki(tmp_path))
    node.start()
    visitor = agent = None
    try:
        assert node.demo is not None
        async with httpx.AsyncClient(
            base_url=node.url, verify=node.tls, timeout=10, trust_env=False
        ) as http:
            session = await http.post(
                "/api/v1/visitor/session", json={"site_key": node.demo.site_key}
            )
            assert session.status_code == 200, session.text
            account = node.demo.agents[0]
            login = await http.post(
                "/api/v1/auth/login",
                json={"tenant": node.demo.tenant, "email": account.email,
                      "password": account.password},
            )
            assert login.status_code == 200, login.text
        agent = await node.ws("/ws/agent", "agent")
        await agent.hello(login.json()["token"])
        visitor = await node.ws("/ws/visitor", "visitor")
        await visitor.hello(session.json()["token"])

        first = await visitor.send_and_ack("hello over wss", timeout=10)
        conv = first["conv"]
        seen = await agent.recv_until(
            lambda f: f["type"] == "event" and f.get("conv") == conv
            and f.get("name") in ("conv.queued", "conv.assigned"),
            10, "the visitor's conversation at the agent",
        )
        if seen["name"] == "conv.queued":
            await agent.send_json({"type": "accept", "conv": conv})
            await agent.recv_event("conv.assigned", conv, 10)
        # Now the agent follows the conversation: the next message is pushed to it.
        ack = await visitor.send_and_ack("second, over wss", conv, timeout=10)
        assert ack["type"] == "ack" and ack["seq"] == first["seq"] + 1
        message = await agent.recv_until(
            lambda f: f["type"] == "message" and f.get("conv") == conv, 10,
            "the visitor's message at the agent",
        )
        assert message["body"] == "second, over wss"
        assert message["seq"] == ack["seq"]
        reply = await agent.send_and_ack("answered over wss", conv, timeout=10)
        back = await visitor.recv_until(
            lambda f: f["type"] == "message" and f.get("seq") == reply["seq"], 10,
            "the agent's reply at the visitor",
        )
        assert back["body"] == "answered over wss"
        assert not agent.stream_violations and not visitor.stream_violations
    finally:
        for client in (visitor, agent):
            if client is not None:
                await client.close()
        node.stop()
