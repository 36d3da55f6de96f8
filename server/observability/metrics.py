"""Prometheus metrics (one process per node, so the default registry is enough)."""

from __future__ import annotations

import functools
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "steadydesk_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "steadydesk_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
WS_CONNECTIONS = Gauge("steadydesk_ws_connections", "Open WebSocket connections", ["kind"])
WS_FRAMES_IN = Counter("steadydesk_ws_frames_in_total", "Frames received", ["kind", "type"])
MESSAGES_IN = Counter(
    "steadydesk_messages_in_total", "Messages stored (new, not resends)", ["sender"]
)
MESSAGES_OUT = Counter("steadydesk_messages_out_total", "Message frames delivered to connections")
ERRORS = Counter("steadydesk_errors_total", "Errors sent to clients, by code", ["code"])
CLOSES = Counter("steadydesk_ws_closes_total", "Connections closed by the server", ["code"])
COMMIT_BATCH = Histogram(
    "steadydesk_commit_batch_size",
    "Messages per group commit",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
COMMIT_LATENCY = Histogram(
    "steadydesk_commit_seconds",
    "Group commit latency",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
ACK_LATENCY = Histogram(
    "steadydesk_ack_seconds",
    "From send received to ack queued",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)
SLOW_CONSUMERS = Counter("steadydesk_slow_consumers_total", "Connections closed for not keeping up")
# The Redis bus (clusters): alerts on a node cut off from its peers, or flapping.
BUS_CONNECTED = Gauge("steadydesk_bus_connected", "1 while the Redis bus reader is subscribed")
BUS_RECONNECTS = Counter("steadydesk_bus_reconnects_total", "Redis bus reconnections after a loss")
BUS_DROPPED = Counter(
    "steadydesk_bus_dropped_total", "Publications not sent while Redis was away (peers resync)"
)


@functools.cache
def frames_in(kind: str, frame_type: str) -> Any:
    """The labelled child, looked up once: ``labels()`` costs a lock per frame otherwise."""
    return WS_FRAMES_IN.labels(kind, frame_type)


@functools.cache
def messages_in(sender: str) -> Any:
    return MESSAGES_IN.labels(sender)


def observe_batch(size: int, seconds: float) -> None:
    COMMIT_BATCH.observe(size)
    COMMIT_LATENCY.observe(seconds)


# Backups (docs/backups.md): set on every node from the shared database's record of runs,
# so each node's /metrics tells the same story whichever node (or the CLI) ran the backup.
BACKUP_LAST_SUCCESS = Gauge(
    "steadydesk_backup_last_success_timestamp_seconds",
    "When the last successful backup finished (unix seconds; 0 when none yet)",
)
BACKUP_LAST_ATTEMPT = Gauge(
    "steadydesk_backup_last_attempt_timestamp_seconds",
    "When the last backup attempt started (unix seconds; 0 when none yet)",
)
BACKUP_LAST_SIZE = Gauge(
    "steadydesk_backup_last_size_bytes", "Size of the last successful backup's archive"
)
BACKUP_LAST_RESULT = Gauge(
    "steadydesk_backup_last_result",
    "1 when the last finished backup attempt succeeded, 0 when it failed (or none yet)",
)
BACKUP_SCHEDULER_LEADER = Gauge(
    "steadydesk_backup_scheduler_leader",
    "1 on the node holding the scheduler lease (it runs the scheduled backups), else 0",
)


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "other"


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else "other"
