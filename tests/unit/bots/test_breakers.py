"""The circuit breakers as /healthz and /metrics report them (BRIDGES §2-3): closed, open
after repeated failures, half-open once the reset time has passed (the next call probes),
closed again after a good probe; a rate limit is an answer, not a failure."""

from __future__ import annotations

import asyncio

import pytest

from bots.core.breakers import BreakerOpen, Breakers
from bots.core.metrics import BridgeMetrics
from bots.core.platform import PlatformUnavailable, RateLimited


def breakers(metrics: BridgeMetrics) -> Breakers:
    return Breakers(
        threshold=2, reset_secs=0.3, exclude=[RateLimited], on_change=metrics.set_breaker
    )


def gauge(metrics: BridgeMetrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(
        "steadydesk_bridge_breaker_state", {"platform": "slack", "breaker": name}
    )


async def fail(b: Breakers, error: Exception) -> None:
    with pytest.raises(type(error)):
        async with b.guard("platform"):
            raise error


async def test_open_after_repeated_failures_then_half_open_then_closed() -> None:
    metrics = BridgeMetrics("slack")
    b = breakers(metrics)
    await fail(b, RateLimited(1.0))
    await fail(b, RateLimited(1.0))
    assert b.state("platform") == "closed"  # rate limits do not count
    await fail(b, PlatformUnavailable("500"))
    await fail(b, PlatformUnavailable("500"))
    assert b.state("platform") == "open"
    b.refresh_metrics()
    assert gauge(metrics, "platform") == 1
    with pytest.raises(BreakerOpen):
        async with b.guard("platform"):
            pass
    await asyncio.sleep(0.4)
    assert b.state("platform") == "half_open"
    b.refresh_metrics()
    assert gauge(metrics, "platform") == 2
    async with b.guard("platform"):
        pass  # the probe succeeds
    assert b.state("platform") == "closed"
    assert gauge(metrics, "platform") == 0
    assert b.state("server") == "closed" and gauge(metrics, "server") == 0
