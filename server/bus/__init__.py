"""The bus carries committed messages and events between nodes (or within one).

Topics:
* ``conv:<id>``       messages, typing and read receipts of one conversation, and the
                      conversation events its visitor may see;
* ``agents:<tenant>`` events for the tenant's agents (queue, assignment, status);
* ``visitor:<id>``    events for every connection of one visitor (a conversation opened);
* ``agent:<id>``      events for every connection of one agent (revocation);
* ``bridge:<id>``     events for every connection of one bridge (revocation);
* ``settings``        a tenant's settings changed: every node drops its cached copies
                      (``server/chat/settings_changes.py``), whatever it serves.

Handlers are plain callables run on the event loop; they must not block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Payload = dict[str, Any]
Handler = Callable[[str, Payload], None]


class Bus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def publish(self, topic: str, payload: Payload) -> None:
        """Fire and forget; delivery order per topic is publication order."""

    def subscribe(self, topic: str, handler: Handler) -> None: ...

    def unsubscribe(self, topic: str, handler: Handler) -> None: ...

    def healthy(self) -> bool: ...

    def on_resync(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` whenever publications may have been missed (bus reconnect)."""

    def on_subscribed(self, callback: Callable[[str], None]) -> None:
        """Run ``callback(topic)`` once a new subscription takes effect, when publications
        made between ``subscribe`` and that moment may have been missed."""
