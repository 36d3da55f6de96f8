# Bounded waits take an explicit per-call timeout (every wait in the suite must end):
# ruff: noqa: ASYNC109
"""A minimal hand-rolled WebSocket client (RFC 6455) over a plain TCP stream.

Client libraries answer ping control frames by themselves; this one answers them only
when told to, so a test can play a peer that has gone silent. It also reports the
HTTP status of a refused upgrade.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class HandshakeRefused(AssertionError):
    def __init__(self, status: int, head: str) -> None:
        super().__init__(f"upgrade refused with HTTP {status}: {head[:300]!r}")
        self.status = status
        self.head = head


@dataclass
class RawEvent:
    """What ended or interrupted a read: a text frame, a close frame, or EOF."""

    kind: str  # "text", "close", "eof"
    text: str = ""
    close_code: int | None = None


@dataclass
class RawWebSocket:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    answer_pings: bool = True
    pings_seen: int = 0
    ping_times: list[float] = field(default_factory=list)

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        path: str,
        *,
        origin: str | None = None,
        answer_pings: bool = True,
        timeout: float = 5.0,
        receive_buffer: int | None = None,
    ) -> RawWebSocket:
        """``receive_buffer``: a small kernel buffer, for a peer that stops reading."""
        if receive_buffer is None:
            opened = asyncio.open_connection(host, port)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setblocking(False)
            await asyncio.wait_for(
                asyncio.get_running_loop().sock_connect(sock, (host, port)), timeout
            )
            opened = asyncio.open_connection(sock=sock)
        reader, writer = await asyncio.wait_for(opened, timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if origin:
            lines.append(f"Origin: {origin}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)).decode("latin-1")
        status = int(head.split(" ", 2)[1])
        if status != 101:
            writer.close()
            raise HandshakeRefused(status, head)
        expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(":") for line in head.split("\r\n")[1:] if line)
        }
        assert headers.get("sec-websocket-accept") == expected, f"bad accept header: {head!r}"
        return cls(reader, writer, answer_pings=answer_pings)

    async def send_frame(self, opcode: int, payload: bytes, fin: bool = True) -> None:
        first = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", first, 0x80 | n)
        elif n < 1 << 16:
            header = struct.pack("!BBH", first, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", first, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + mask + masked)
        await self.writer.drain()

    async def send_json(self, frame: dict[str, Any]) -> None:
        await self.send_frame(OP_TEXT, json.dumps(frame).encode())

    async def _read_frame(self) -> tuple[bool, int, bytes]:
        b1, b2 = await self.reader.readexactly(2)
        n = b2 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        mask = await self.reader.readexactly(4) if b2 & 0x80 else b""
        data = await self.reader.readexactly(n)
        if mask:
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        return bool(b1 & 0x80), b1 & 0x0F, data

    async def next_event(self, timeout: float) -> RawEvent:
        """Read until a text message, a close frame or EOF; pings are counted (and answered
        only if ``answer_pings``). Raises TimeoutError if none comes in ``timeout``."""
        return await asyncio.wait_for(self._next_event(), timeout)

    async def _next_event(self) -> RawEvent:
        parts: list[bytes] = []
        while True:
            try:
                fin, opcode, data = await self._read_frame()
            except (asyncio.IncompleteReadError, ConnectionError):
                return RawEvent("eof")
            if opcode == OP_PING:
                self.pings_seen += 1
                self.ping_times.append(asyncio.get_running_loop().time())
                if self.answer_pings:
                    await self.send_frame(OP_PONG, data)
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                return RawEvent("close", data[2:].decode(errors="replace"), code)
            parts.append(data)
            if fin:
                return RawEvent("text", b"".join(parts).decode())

    async def recv_json(self, timeout: float = 5.0) -> dict[str, Any]:
        event = await self.next_event(timeout)
        assert event.kind == "text", f"expected a text frame, got {event}"
        frame: dict[str, Any] = json.loads(event.text)
        return frame

    def abort(self) -> None:
        transport = self.writer.transport
        transport.abort()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2)
