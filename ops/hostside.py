"""Run ON the host by the distribution's python3, fed through stdin: standard library only.

    python3 - wait-healthy '{"ports": [8801, 8802], "timeout": 60}'
    python3 - wait-url '{"url": "http://127.0.0.1:8799/steadydesk-routing", "body": "…"}'
    python3 - probe '{"nodes": [...], "data_dir": "...", "cert": "...", "releases": {...}}'

One SSH round trip per question instead of one per node; answers are one JSON object or
one line on stderr with exit 1. Nothing here may import ops (it is not on the host).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

HTTP_TIMEOUT_SECS = 3.0


def _get(
    url: str, headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None
) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(
            request, timeout=HTTP_TIMEOUT_SECS, context=context
        ) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")
    except (OSError, ValueError) as err:
        return 0, str(getattr(err, "reason", err))


def healthz(port: int) -> dict[str, Any]:
    status, body = _get(f"http://127.0.0.1:{port}/api/healthz")
    try:
        report = json.loads(body) if status else {}
    except ValueError:
        report = {}
    if not isinstance(report, dict):
        report = {}
    return {"status": status, "report": report, "error": "" if status else body}


def wait_healthy(args: dict[str, Any]) -> int:
    deadline = time.monotonic() + float(args.get("timeout", 60))
    pending = [int(p) for p in args["ports"]]
    last: dict[int, dict[str, Any]] = {}
    while pending and time.monotonic() < deadline:
        for port in list(pending):
            last[port] = healthz(port)
            if last[port]["status"] == 200:
                pending.remove(port)
        if pending:
            time.sleep(0.3)
    if pending:
        detail = "; ".join(
            f"127.0.0.1:{p} "
            + (f"HTTP {last[p]['status']} {last[p]['report']}" if last[p]["status"] else
               f"not answering ({last[p]['error']})")
            for p in pending
        )  # fmt: skip
        print(f"nodes not healthy after {args.get('timeout', 60)} s: {detail}", file=sys.stderr)
        return 1
    return 0


def wait_url(args: dict[str, Any]) -> int:
    """GET ``url`` until it answers 200 (and ``body``, if given); TLS is not verified here:
    this is the host asking itself, by address, whether nginx serves what was written."""
    deadline = time.monotonic() + float(args.get("timeout", 30))
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    seen = ""
    while time.monotonic() < deadline:
        status, body = _get(args["url"], context=context)
        seen = f"HTTP {status} {body.strip()[:200]}" if status else body
        if status == 200 and ("body" not in args or body.strip() == args["body"]):
            return 0
        time.sleep(0.2)
    wanted = f" with {args['body']!r}" if "body" in args else ""
    print(f"{args['url']} did not answer 200{wanted}: last {seen!r}", file=sys.stderr)
    return 1


def _command(*argv: str) -> tuple[bool, str]:
    if not shutil.which(argv[0]):
        return False, f"{argv[0]} is not installed"
    try:
        done = subprocess.run(["timeout", "5", *argv], capture_output=True, text=True, check=False)
    except OSError as err:
        return False, str(err)
    text = (done.stdout or done.stderr).strip().splitlines()
    return done.returncode == 0, text[-1] if text else f"exit {done.returncode}"


def _cert_days(path: str) -> dict[str, Any]:
    if not path or not os.path.exists(path):
        return {"days_left": None, "error": f"no certificate at {path}"}
    ok, line = _command("openssl", "x509", "-enddate", "-noout", "-in", path)
    if not ok or "=" not in line:
        return {"days_left": None, "error": line}
    not_after = time.mktime(time.strptime(line.split("=", 1)[1].strip(), "%b %d %H:%M:%S %Y %Z"))
    # mktime took the UTC date as local time: correct by the local offset.
    not_after -= time.timezone
    return {"days_left": int((not_after - time.time()) // 86400), "not_after": line.split("=")[1]}


def _backup_metrics(ports: list[int]) -> dict[str, float] | None:
    """The backup gauges, from the first node that answers /metrics (None: not exported)."""
    for port in ports:
        status, body = _get(f"http://127.0.0.1:{port}/metrics")
        if status != 200:
            continue
        values = {}
        for line in body.splitlines():
            if line.startswith("steadydesk_backup_"):
                name, _, value = line.rpartition(" ")
                try:
                    values[name.split("{")[0]] = float(value)
                except ValueError:
                    continue
        return values or None
    return None


def probe(args: dict[str, Any]) -> int:
    nodes = []
    for node in args.get("nodes", []):
        nodes.append({**node, **healthz(int(node["port"]))})
    mariadb_ok, mariadb = _command("mariadb-admin", "--connect-timeout=3", "ping")
    redis_ok, redis = _command("redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping")
    redis_ok = redis_ok and redis == "PONG"
    data_dir = args.get("data_dir", "/")
    usage = shutil.disk_usage(data_dir if os.path.exists(data_dir) else "/")
    releases = {
        slot: os.path.basename(os.path.realpath(link)) if os.path.exists(link) else None
        for slot, link in args.get("slot_links", {}).items()
    }
    report = {
        "hostname": os.uname().nodename,
        "nodes": nodes,
        "mariadb": {"ok": mariadb_ok, "detail": mariadb},
        "redis": {"ok": redis_ok, "detail": redis},
        "disk": {"path": data_dir, "free": usage.free, "total": usage.total},
        "cert": _cert_days(args.get("cert", "")),
        "backup": _backup_metrics([int(n["port"]) for n in nodes]),
        "releases": releases,
        "now": time.time(),
    }
    print(json.dumps(report))
    return 0


COMMANDS = {"wait-healthy": wait_healthy, "wait-url": wait_url, "probe": probe}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in COMMANDS:
        print(f"usage: python3 - {{{'|'.join(COMMANDS)}}} JSON", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](json.loads(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
