"""The in-process bus of the single-node embedded default."""

from __future__ import annotations

import logging
from collections.abc import Callable

from server.bus import Handler, Payload

log = logging.getLogger(__name__)


class LocalBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._handlers.clear()

    def publish(self, topic: str, payload: Payload) -> None:
        for handler in tuple(self._handlers.get(topic, ())):
            try:
                handler(topic, payload)
            except Exception:  # one broken subscriber must not stop the others
                log.exception("bus handler failed on %s", topic)

    def subscribe(self, topic: str, handler: Handler) -> None:
        handlers = self._handlers.setdefault(topic, [])
        if handler not in handlers:
            handlers.append(handler)

    def unsubscribe(self, topic: str, handler: Handler) -> None:
        handlers = self._handlers.get(topic)
        if handlers and handler in handlers:
            handlers.remove(handler)
            if not handlers:
                del self._handlers[topic]

    def has_subscribers(self, topic: str) -> bool:
        return topic in self._handlers

    def topics(self) -> list[str]:
        return list(self._handlers)

    def healthy(self) -> bool:
        return True

    def on_resync(self, callback: Callable[[], None]) -> None:
        """Nothing is ever missed in one process."""

    def on_subscribed(self, callback: Callable[[str], None]) -> None:
        """Subscriptions take effect at once here."""
