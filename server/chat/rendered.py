"""Each message's ``html`` is rendered once, at commit, and then reused (issue #11).

A ``sync`` of 500 messages re-rendered every body on the event loop; now the writer
renders a new message in its thread, the bus carries the result to other nodes, and the
read paths (which run on the store's threads) take it from this cache, rendering there
only what the cache lost. The cache also keeps each message's serialised ``message``
frame once one was built, so pages of history are joined, not serialised again. It is
bounded by the bytes it holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from server.chat.records import StoredMessage
from server.security.sanitizer import render_html

CACHE_MAX_CHARS = 32 * 2**20  # html and frames: about 32-64 MB


class _Entry:
    __slots__ = ("frame", "html")

    def __init__(self, html: str):
        self.html = html
        self.frame: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.html) + (len(self.frame) if self.frame is not None else 0)


class RenderedCache:
    def __init__(self, max_chars: int = CACHE_MAX_CHARS):
        self._max_chars = max_chars
        self._chars = 0
        self._items: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def html(self, message_id: str, body: str) -> str:
        """The message's html, from the cache or rendered now (on the caller's thread)."""
        with self._lock:
            found = self._items.get(message_id)
            if found is not None:
                self._items.move_to_end(message_id)
                return found.html
        rendered = render_html(body)
        self.put(message_id, rendered)
        return rendered

    def fill(self, message: StoredMessage) -> None:
        """Give a message read from the database its html and, once built, its frame."""
        with self._lock:
            found = self._items.get(message.id)
            if found is not None:
                self._items.move_to_end(message.id)
                message.html = found.html
                if found.frame is not None:
                    message.set_frame(found.frame)
                    return
        if found is None:
            message.html = render_html(message.body)
            found = self._add(message.id, message.html)
        frame = message.frame()
        with self._lock:
            if found.frame is None and self._items.get(message.id) is found:
                found.frame = frame
                self._chars += len(frame)
                self._trim()

    def put(self, message_id: str, html: str) -> None:
        self._add(message_id, html)

    def _add(self, message_id: str, html: str) -> _Entry:
        with self._lock:
            found = self._items.get(message_id)
            if found is not None:
                return found
            entry = self._items[message_id] = _Entry(html)
            self._chars += entry.size
            self._trim()
            return entry

    def _trim(self) -> None:
        while self._chars > self._max_chars and self._items:
            _, dropped = self._items.popitem(last=False)
            self._chars -= dropped.size


RENDERED = RenderedCache()
