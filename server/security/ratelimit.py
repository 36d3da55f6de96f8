"""Rate limits as plain classes (no I/O): the gateway asks, they answer."""

from __future__ import annotations

import time
from collections import OrderedDict, deque


class SlidingWindow:
    """At most ``limit`` events in any ``window_secs``; refused events are not counted."""

    __slots__ = ("_events", "limit", "window")

    def __init__(self, limit: int, window_secs: float):
        self.limit = limit
        self.window = window_secs
        # Made on first use: most windows (a connection's send, sync, signal and bad-frame
        # limits) never see an event, and an empty deque costs over 600 bytes.
        self._events: deque[float] | None = None

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        edge = now - self.window
        events = self._events
        if events is None:
            events = self._events = deque()
        while events and events[0] <= edge:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        return True


class KeyedWindows:
    """A sliding window per key (e.g. per client IP), with a bounded number of keys."""

    def __init__(self, limit: int, window_secs: float, max_keys: int = 100_000):
        self.limit = limit
        self.window = window_secs
        self.max_keys = max_keys
        self._windows: OrderedDict[str, SlidingWindow] = OrderedDict()

    def allow(self, key: str, now: float | None = None) -> bool:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = SlidingWindow(self.limit, self.window)
            if len(self._windows) > self.max_keys:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(key)
        return window.allow(now)
