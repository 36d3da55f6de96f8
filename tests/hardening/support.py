"""Helpers of the hardening suite: a node's memory, and ping round trips as a client sees them."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.clients import WsClient


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


@dataclass
class PingProbe:
    """A well-behaved client that pings every ``every`` seconds and keeps the round trips."""

    client: WsClient
    every: float = 0.02
    rtts: list[float] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await self.client.ping_pong(timeout=30)
            self.rtts.append(time.perf_counter() - started)
            await asyncio.sleep(self.every)

    def p99_ms(self) -> float:
        return statistics.quantiles(self.rtts, n=100)[98] * 1000

    async def quiet_p99_ms(self, secs: float = 2.0) -> float:
        """The p99 before any attack: what the machine itself costs (other work on it)."""
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(secs, stop.set)
        await self.run(stop)
        quiet = self.p99_ms()
        self.rtts.clear()
        return quiet

    def limit_ms(self, goal_ms: float, quiet_ms: float) -> float:
        """``goal_ms``, unless the machine alone already costs more than a fifth of it:
        then five times its quiet p99 (a shared CI box must not fail a sound server)."""
        return max(goal_ms, 5 * quiet_ms)

    def summary(self) -> str:
        ms = sorted(r * 1000 for r in self.rtts)
        return (
            f"{len(ms)} pings: p50 {statistics.median(ms):.1f} ms, p99 {self.p99_ms():.1f} ms,"
            f" max {ms[-1]:.1f} ms"
        )
