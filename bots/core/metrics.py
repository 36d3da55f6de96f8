"""The bridge's Prometheus metrics (BRIDGES §2: every name starts ``steadydesk_bridge_``).

One registry per bridge, so tests can run several bridges in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BREAKER_STATE_VALUES = {"closed": 0, "open": 1, "half_open": 2}


class BridgeMetrics:
    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.posted = Counter(
            "steadydesk_bridge_posted_total",
            "Items posted into chat-app threads (messages, notes, roots, notices)",
            ["platform"],
            registry=r,
        ).labels(platform)
        self.received = Counter(
            "steadydesk_bridge_received_total",
            "Messages received: from Steadydesk (source=steadydesk) or from the chat app "
            "(source=platform)",
            ["platform", "source"],
            registry=r,
        )
        self.retries = Counter(
            "steadydesk_bridge_retries_total",
            "Calls tried again after a failure or a rate limit",
            ["platform", "target", "reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "steadydesk_bridge_duplicates_total",
            "Chat-app deliveries dropped as repeats (retries, repeated event ids)",
            ["platform"],
            registry=r,
        ).labels(platform)
        self.breaker_state = Gauge(
            "steadydesk_bridge_breaker_state",
            "Circuit breaker state: 0 closed, 1 open, 2 half-open",
            ["platform", "breaker"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "steadydesk_bridge_outbox_depth",
            "Entries waiting in the durable outbox to be posted to the chat app",
            ["platform"],
            registry=r,
        ).labels(platform)
        self.thread_latency = Histogram(
            "steadydesk_bridge_thread_latency_seconds",
            "From a message's commit on Steadydesk (its ts) to its post in the thread",
            ["platform"],
            registry=r,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        ).labels(platform)
        self.connected = Gauge(
            "steadydesk_bridge_server_connected",
            "1 while the bridge's WebSocket to Steadydesk is welcomed",
            ["platform"],
            registry=r,
        ).labels(platform)
        for name in ("server", "platform"):
            self.set_breaker(name, "closed")

    def set_breaker(self, breaker: str, state: str) -> None:
        self.breaker_state.labels(self.platform, breaker).set(BREAKER_STATE_VALUES[state])

    def retry(self, target: str, reason: str) -> None:
        self.retries.labels(self.platform, target, reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
