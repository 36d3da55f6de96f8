"""``fab health`` and ``fab status``: one probe per host, judged here, shown as tables.

Red means someone should act now: a node not answering 200 on /api/healthz (or reporting
its database, Redis or WebSocket down), MariaDB or Redis not answering on the host, less
than 10 % (or 1 GiB) of disk left for the data, a certificate with under 14 days left
(certbot renews at 30), or the last backup older than the nightly schedule plus a margin
(26 h) or failed.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field
from typing import Any

from ops.checks import probe
from ops.deployment import Deployment
from ops.layout import DATA_DIR, SLOTS, node_name, slot_link
from ops.remote import Host

DISK_RED_FRACTION = 0.10
DISK_RED_BYTES = 1 << 30
CERT_RED_DAYS = 14
BACKUP_RED_AGE_SECS = 26 * 3600


@dataclass
class Cell:
    text: str
    red: bool = False


@dataclass
class HostHealth:
    host: str
    hosts_row: list[Cell] = field(default_factory=list)
    node_rows: list[list[Cell]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def flag(self, cell: Cell, what: str) -> Cell:
        if cell.red:
            self.problems.append(f"{self.host} {what}: {cell.text}")
        return cell


HOST_COLUMNS = [
    "host",
    "live release",
    "routing",
    "mariadb",
    "redis",
    "disk free",
    "certificate",
    "last backup",
]
NODE_COLUMNS = [
    *("host", "node", "port", "group", "release"),
    *("healthz", "version", "database", "redis", "websocket"),
]


def probe_args(deployment: Deployment) -> dict[str, Any]:
    nodes = []
    for slot in deployment.running_slots():
        role = "live" if slot == deployment.live else "gray"
        for port in deployment.nodes_of(slot):
            nodes.append({"slot": slot, "role": role, "port": port, "name": node_name(slot, port)})
    return {
        "nodes": nodes,
        "data_dir": DATA_DIR,
        "cert": deployment.tls.cert,
        "slot_links": {slot: slot_link(slot) for slot in SLOTS},
    }


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} TB"


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h ago"
    return f"{int(seconds // 86400)} days ago"


def _installed_secs_ago(deployment: Deployment, now: float) -> float:
    try:
        at = calendar.timegm(time.strptime(deployment.installed_at, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return 0.0
    return now - at


def backup_cell(metrics: dict[str, float] | None, deployment: Deployment, now: float) -> Cell:
    if metrics is None:
        return Cell("n/a (this release exports no backup metrics)")
    success = metrics.get("steadydesk_backup_last_success_timestamp_seconds", 0.0)
    attempt = metrics.get("steadydesk_backup_last_attempt_timestamp_seconds", 0.0)
    result = metrics.get("steadydesk_backup_last_result", 1.0)
    size = metrics.get("steadydesk_backup_last_size_bytes", 0.0)
    if attempt and result == 0:
        return Cell(f"last attempt FAILED {_age(now - attempt)}", red=True)
    if not success:
        late = _installed_secs_ago(deployment, now) > BACKUP_RED_AGE_SECS
        return Cell("none yet" + (" (installed over 26 h ago)" if late else ""), red=late)
    age = now - success
    text = f"{_age(age)}, {_size(size)}"
    return Cell(
        text if age <= BACKUP_RED_AGE_SECS else f"{text}: OLDER than 26 h",
        age > BACKUP_RED_AGE_SECS,
    )


def _service(answer: dict[str, Any]) -> Cell:
    return Cell("OK", False) if answer["ok"] else Cell(f"DOWN: {answer['detail']}", True)


def judge(host: Host, deployment: Deployment, report: dict[str, Any], routing: str) -> HostHealth:
    health = HostHealth(host.name)
    live = deployment.live
    disk = report["disk"]
    free = float(disk["free"])
    disk_red = free < DISK_RED_FRACTION * float(disk["total"]) or free < DISK_RED_BYTES
    cert = report["cert"]
    days = cert.get("days_left")
    cert_text = (
        f"{deployment.tls.kind}, {days} days left"
        if days is not None
        else f"MISSING: {cert.get('error')}"
    )
    cert_red = days is None or days < CERT_RED_DAYS
    share = 100 * free / max(1.0, float(disk["total"]))
    health.hosts_row = [
        Cell(host.name),
        Cell(str(report["releases"].get(live) if live else "-")),
        Cell(routing),
        health.flag(_service(report["mariadb"]), "mariadb"),
        health.flag(_service(report["redis"]), "redis"),
        health.flag(Cell(f"{_size(free)} ({share:.0f}%)", disk_red), "disk"),
        health.flag(Cell(cert_text, cert_red), "certificate"),
        health.flag(backup_cell(report.get("backup"), deployment, float(report["now"])), "backup"),
    ]
    for node in report["nodes"]:
        status = int(node["status"])
        healthz = node["report"] or {}
        healthz_cell = Cell(str(status) if status else f"DOWN: {node['error']}", status != 200)
        row = [
            Cell(host.name),
            Cell(node["name"]),
            Cell(str(node["port"])),
            Cell(node["role"]),
            Cell(str(report["releases"].get(node["slot"]) or "-")),
            health.flag(healthz_cell, f"node {node['name']} healthz"),
            Cell(str(healthz.get("version", "-"))),
        ]
        for key in ("database", "redis", "websocket"):
            value = str(healthz.get(key, "-"))
            bad = value not in ("OK", "n/a") and bool(status)
            row.append(health.flag(Cell(value, bad), f"node {node['name']} {key}"))
        health.node_rows.append(row)
    if not report["nodes"]:
        health.problems.append(f"{host.name}: no nodes are supposed to run (deployment record)")
    return health


def check_host(host: Host, deployment: Deployment, routing: str) -> HostHealth:
    return judge(host, deployment, probe(host, probe_args(deployment)), routing)


def table(columns: list[str], rows: list[list[Cell]], color: bool) -> str:
    widths = [len(c) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell.text))

    def paint(cell: Cell, width: int) -> str:
        text = cell.text.ljust(width)
        return f"\033[31m{text}\033[0m" if cell.red and color else text

    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(paint(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)
