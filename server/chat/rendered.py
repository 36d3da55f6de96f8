"""Each message's ``html`` is rendered once, at commit, and then reused (issue #11).

A ``sync`` of 500 messages re-rendered every body on the event loop; now the writer
renders a new message in its thread, the bus carries the result to other nodes, and the
read paths (which run on the store's threads) take it from this cache, rendering there
only what the cache lost. The cache is bounded by the bytes it holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from server.security.sanitizer import render_html

CACHE_MAX_CHARS = 16 * 2**20  # about 16-64 MB of rendered text


class RenderedCache:
    def __init__(self, max_chars: int = CACHE_MAX_CHARS):
        self._max_chars = max_chars
        self._chars = 0
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def html(self, message_id: str, body: str) -> str:
        """The message's html, from the cache or rendered now (on the caller's thread)."""
        with self._lock:
            found = self._items.get(message_id)
            if found is not None:
                self._items.move_to_end(message_id)
                return found
        rendered = render_html(body)
        self.put(message_id, rendered)
        return rendered

    def put(self, message_id: str, html: str) -> None:
        with self._lock:
            if message_id in self._items:
                return
            self._items[message_id] = html
            self._chars += len(html)
            while self._chars > self._max_chars and self._items:
                _, dropped = self._items.popitem(last=False)
                self._chars -= len(dropped)


RENDERED = RenderedCache()
