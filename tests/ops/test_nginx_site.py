"""The nginx site fab writes, rendered for every routing state and checked by nginx
itself (``nginx -t``), including a tenant named like a ``map`` keyword."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ops.deployment import Deployment, Gray, Tls
from ops.nginx import render_site, routing_id
from tests.support.services import service_unavailable


def _deployment(**changes: object) -> Deployment:
    d = Deployment(
        nodes=2, https_port=443, server_name="10.0.0.2", domain=None, tenant="default",
        mode="SelfHosted", tls=Tls("self-signed", "/x/cert.pem", "/x/key.pem"),
        installed_at="2030-01-01T00:00:00Z", live="blue", releases={"blue": "r1", "green": "r2"},
    )  # fmt: skip
    for key, value in changes.items():
        setattr(d, key, value)
    return d


STATES = {
    "one group": _deployment(),
    "gray with pins": _deployment(
        gray=Gray("green", 30, ["default", "hosts"], ["acme"], {"site_1": "green"})
    ),
    "gray 0 (rollback warming up)": _deployment(gray=Gray("green", 0.0)),
    "gray 100": _deployment(gray=Gray("green", 100.0)),
    "green live, custom port, a domain": _deployment(
        live="green", https_port=8443, domain="chat.example.test"
    ),
}


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        service_unavailable("nginx is not installed (apt-get install nginx-light)")
    return str(found)


@pytest.mark.parametrize("state", list(STATES))
def test_nginx_accepts_the_site(state: str, nginx_binary: str, tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    d = STATES[state]
    d.tls = Tls(d.tls.kind, str(cert), str(key))
    (tmp_path / "site.conf").write_text(render_site(d, ipv6=False))
    temp_paths = "".join(f"{n}_temp_path {tmp_path}/{n};\n" for n in ("client_body", "proxy"))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n{temp_paths}include {tmp_path}/site.conf;\n}}\n"
    )
    checked = subprocess.run(
        [nginx_binary, "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr


def test_routing_id_changes_with_where_requests_go_only() -> None:
    base = routing_id(_deployment())
    assert routing_id(_deployment()) == base
    assert routing_id(_deployment(https_port=8443)) == base  # not routing
    assert routing_id(_deployment(gray=Gray("green", 30))) != base
    assert routing_id(_deployment(gray=Gray("green", 30))) != routing_id(
        _deployment(gray=Gray("green", 40))
    )


def test_values_that_could_break_out_of_the_config_are_refused() -> None:
    with pytest.raises(ValueError):
        render_site(_deployment(gray=Gray("green", 30, ['x";\n}'])), ipv6=False)
