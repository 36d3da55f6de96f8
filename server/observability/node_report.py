"""A running node reports the encryption keys it seals with (``server.storage.node_keys``):
once before it serves, then every ``key_report_secs``, and it withdraws the report when it
stops cleanly. ``steadydesk reencrypt`` reads the reports before it retires a key."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from server.errors import Unavailable
from server.storage import node_keys
from server.storage.database import Store
from server.storage.sealed import active_keyring

log = logging.getLogger(__name__)


class KeyReporter:
    def __init__(self, store: Store, node: str, every_secs: float) -> None:
        self.store = store
        self.node = node
        self.every_secs = every_secs
        self._task: asyncio.Task[None] | None = None

    async def _report(self) -> None:
        await self.store.run(node_keys.report, self.node, active_keyring(), self.every_secs)

    async def start(self) -> None:
        await self._report()  # before the node serves: a live node is always on record
        self._task = asyncio.get_running_loop().create_task(self._forever(), name="node-key-report")

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self.every_secs)
            try:
                await self._report()
            except Unavailable as err:  # the next period tries again
                log.warning("node key report failed: %s", err)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.store.run(node_keys.forget, self.node)
        except Unavailable as err:  # the report lapses on its own
            log.warning("node key report not withdrawn: %s", err)
