"""A TCP proxy on 127.0.0.1 that can cut the network the way a phone loses it.

``cut(up=..., down=...)`` blackholes one or both directions of every live *and* new
connection: bytes are read and thrown away, nothing is closed, so neither end notices
anything until its own timeouts fire (``up`` is client to server, ``down`` server to
client). ``restore()`` lets bytes through again and resets every connection that lost
bytes: a real TCP stream never skips bytes, it stalls and then dies. ``reset_all()``
drops every live connection at once (RST), like a switch from Wi-Fi to mobile data.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from tests.support.server import free_port

CHUNK_BYTES = 65536


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    tainted: bool = False  # lost bytes while cut: reset on restore
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.server):
            with contextlib.suppress(Exception):
                writer.transport.abort()


class TcpProxy:
    def __init__(
        self, target_port: int, *, target_host: str = "127.0.0.1", port: int | None = None
    ) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self.up_cut = False
        self.down_cut = False
        self.dropped = {"up": 0, "down": 0}
        self.accepted = 0
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        self.reset_all()

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ faults

    def cut(self, *, up: bool = True, down: bool = True) -> None:
        self.up_cut = up
        self.down_cut = down

    def restore(self) -> None:
        self.up_cut = self.down_cut = False
        for link in [link for link in self._links if link.tainted]:
            link.abort()

    def reset_all(self) -> None:
        for link in list(self._links):
            link.abort()

    @property
    def live_connections(self) -> int:
        return len(self._links)

    # ------------------------------------------------------------------ plumbing

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()  # the server is down: refused, as it would be
            return
        link = _Link(client=writer, server=up_writer)
        self._links.add(link)
        link.tasks = [
            asyncio.create_task(self._pump(link, reader, up_writer, "up")),
            asyncio.create_task(self._pump(link, up_reader, writer, "down")),
        ]
        try:
            await asyncio.gather(*link.tasks, return_exceptions=True)
        finally:
            self._links.discard(link)
            link.abort()

    def _is_cut(self, direction: str) -> bool:
        return self.up_cut if direction == "up" else self.down_cut

    async def _pump(
        self,
        link: _Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        direction: str,
    ) -> None:
        try:
            while True:
                data = await reader.read(CHUNK_BYTES)
                if self._is_cut(direction):
                    # A blackhole swallows data and the end of the stream alike.
                    link.tainted = True
                    self.dropped[direction] += len(data)
                    if not data:
                        return
                    continue
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        # The stream ended cleanly in this direction: end the whole link.
        link.abort()
