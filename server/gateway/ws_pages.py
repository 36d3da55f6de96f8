"""The visitor's ``page`` frame (the page trail): rate-limited per connection, then
handed to the page-trail action. A visit to a busy single-page app can send many; past
the limit a frame is answered ``error rate_limited`` and nothing is stored."""

from __future__ import annotations

import weakref

from server.chat.pages import PageTrail
from server.errors import ErrorCode
from server.gateway.connection import Connection
from server.gateway.context import Services
from server.kernel.actors import Actor
from server.security.ratelimit import SlidingWindow
from steadywire.client_frames import Page

PAGE_VIEWS_PER_WINDOW = 30
PAGE_WINDOW_SECS = 60.0


class PageFrames:
    def __init__(self, services: Services):
        self.trail = PageTrail(services.store, services.bus)
        self._rates: weakref.WeakKeyDictionary[Connection, SlidingWindow] = (
            weakref.WeakKeyDictionary()
        )

    async def on_page(self, conn: Connection, frame: Page, actor: Actor) -> None:
        rate = self._rates.get(conn)
        if rate is None:
            rate = self._rates[conn] = SlidingWindow(PAGE_VIEWS_PER_WINDOW, PAGE_WINDOW_SECS)
        if not rate.allow():
            conn.error(ErrorCode.RATE_LIMITED, "too many page views, slow down")
            return
        await self.trail.record(actor, frame)
