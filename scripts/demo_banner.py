"""Create (or find) the demo tenant and print where to look and how to log in.

Used by `task run` just before `steadydesk serve`: it runs `steadydesk demo --json`
with the same environment, so the banner and the server agree on data dir and port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# Where the server serves its widget demo page; keep in step with server/gateway.
DEMO_PAGE_PATH = "/"
HEALTH_PATH = "/api/healthz"


def base_url() -> str:
    host = os.environ.get("STEADY_HOST") or "127.0.0.1"
    port = os.environ.get("STEADY_PORT") or "8800"
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def run_demo() -> dict[str, Any]:
    steadydesk = Path(sys.executable).with_name("steadydesk")
    proc = subprocess.run(
        [str(steadydesk), "demo", "--json"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr or proc.stdout)
        sys.exit(f"steadydesk demo --json failed with exit code {proc.returncode}")
    try:
        data: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(proc.stdout)
        sys.exit("steadydesk demo --json did not print one JSON object")
    return data


def deployment() -> str:
    data_dir = os.environ.get("STEADY_DATA_DIR") or "./data"
    database = "STEADY_DATABASE_URL" if os.environ.get("STEADY_DATABASE_URL") else "SQLite"
    bus = "Redis bus" if os.environ.get("STEADY_REDIS_URL") else "in-process bus"
    return f"{database}, {bus}, data dir {data_dir}"


def banner_lines(demo: dict[str, Any], url: str) -> list[str]:
    lines = [
        f"Steadydesk with demo data ({deployment()})",
        "",
        f"Server         {url}",
        f"Widget demo    {url}{DEMO_PAGE_PATH}",
        f"Health         {url}{HEALTH_PATH}",
        f"Tenant         {demo.get('tenant', '?')}",
        "",
        f"Admin          {demo['admin']['email']}  /  {demo['admin']['password']}",
    ]
    lines += [
        f"Agent          {agent['email']}  /  {agent['password']}"
        for agent in demo.get("agents", [])
    ]
    lines += ["", "Stop with Ctrl-C. `task demo` prints these details again as JSON."]
    return lines


def boxed(lines: list[str]) -> str:
    unicode_ok = (sys.stdout.encoding or "").lower().replace("-", "") == "utf8"
    h, v, tl, tr, bl, br = "─│┌┐└┘" if unicode_ok else "-|++++"
    width = max(len(line) for line in lines)
    out = [f"{tl}{h * (width + 2)}{tr}"]
    out += [f"{v} {line.ljust(width)} {v}" for line in lines]
    out.append(f"{bl}{h * (width + 2)}{br}")
    return "\n".join(out)


def main() -> None:
    print(boxed(banner_lines(run_demo(), base_url())), flush=True)


if __name__ == "__main__":
    main()
