"""Circuit breakers for the two links (Steadydesk and the chat app), on ``purgatory``.

After ``threshold`` consecutive failures a breaker opens: calls fail at once with
:class:`BreakerOpen` for ``reset_secs``, then one call goes through half-open and closes
it again on success (or reopens it). Only failures of the far side count: a rate limit
(429) or a refusal of one request is an answer, not an outage (``exclude``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

# purgatory's state names, as BRIDGES §2 spells them.
_STATE_NAMES = {"closed": "closed", "opened": "open", "half-opened": "half_open"}


class BreakerOpen(Exception):
    """The link is considered down; try again after ``retry_in`` seconds."""

    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(f"{name} circuit open, retry in {retry_in:.1f}s")
        self.name = name
        self.retry_in = retry_in


class Breakers:
    def __init__(
        self,
        *,
        threshold: int,
        reset_secs: float,
        exclude: list[type[BaseException]],
        on_change: Callable[[str, str], None],
    ) -> None:
        self.reset_secs = reset_secs
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=reset_secs, exclude=list(exclude)
        )
        self._states: dict[str, str] = {}
        self._opened_at: dict[str, float] = {}  # monotonic time each breaker last opened
        self._on_change = on_change
        self._factory.add_listener(self._hook)

    def _hook(self, name: str, event_type: str, event: Any) -> None:
        if event_type == "state_changed":
            state = _STATE_NAMES.get(getattr(event, "state", ""), "closed")
            self._states[name] = state
            if state == "open":
                self._opened_at[name] = time.monotonic()
            self._on_change(name, state)

    def state(self, name: str) -> str:
        """``closed``, ``open`` or ``half_open``; an open breaker past its reset time is
        reported half-open (the next call will probe: purgatory moves it only then)."""
        state = self._states.get(name, "closed")
        if state == "open" and time.monotonic() - self._opened_at[name] >= self.reset_secs:
            return "half_open"
        return state

    def refresh_metrics(self, names: tuple[str, ...] = ("server", "platform")) -> None:
        """Report every breaker's state as :meth:`state` tells it (an open one may have
        become half-open with nothing happening)."""
        for name in {*names, *self._states}:
            self._on_change(name, self.state(name))

    @asynccontextmanager
    async def guard(self, name: str) -> AsyncIterator[None]:
        breaker = await self._factory.get_breaker(name)
        opened_at = breaker.context.opened_at
        try:
            async with breaker:
                yield
        except OpenedState as exc:
            since = time.time() - (opened_at or time.time())
            raise BreakerOpen(name, max(0.05, self.reset_secs - since)) from exc
