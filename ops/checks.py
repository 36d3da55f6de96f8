"""Questions asked on the host by ``ops/hostside.py`` (one SSH round trip each)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from ops.remote import Host

HOSTSIDE = (Path(__file__).parent / "hostside.py").read_text()
HOST_PYTHON = "python3"  # the distribution's: every supported host has one after install


def hostside(host: Host, command: str, args: dict[str, Any], timeout: float | None = None) -> str:
    return host.run(
        f"{HOST_PYTHON} - {command} {shlex.quote(json.dumps(args))}",
        input=HOSTSIDE,
        timeout=timeout,
    )


def wait_healthy(host: Host, ports: list[int], timeout: float = 90) -> None:
    """Every node answers 200 on /api/healthz (database and Redis reachable) in time."""
    if ports:
        hostside(host, "wait-healthy", {"ports": ports, "timeout": timeout}, timeout + 30)


def wait_url(host: Host, url: str, *, body: str | None = None, timeout: float = 30) -> None:
    """``url`` (from the host itself; TLS not verified) answers 200, with ``body`` if given."""
    args: dict[str, Any] = {"url": url, "timeout": timeout}
    if body is not None:
        args["body"] = body
    hostside(host, "wait-url", args, timeout + 30)


def probe(host: Host, args: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(hostside(host, "probe", args, 60))
    return report
