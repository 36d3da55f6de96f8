"""A local OpenAI-compatible chat-completions endpoint for the AI robot's tests and bench.

A real HTTP server (aiohttp) on a free loopback port answering ``POST /v1/chat/completions``
in the shape of the OpenAI API: a ``chat.completion`` object, or with ``"stream": true``
``text/event-stream`` chunks (``chat.completion.chunk``, a usage chunk when
``stream_options.include_usage``, then ``data: [DONE]``). The product's ``openai`` client
talks to it unchanged through ``base_url``. Behaviour on demand (:attr:`mode`):

* ``ok``: answers :attr:`answer` in a few chunks;
* ``slow``: waits :attr:`delay` seconds before the first byte;
* ``fail``: HTTP 500 with an OpenAI error body;
* ``garbage``: 200 with a stream of lines that are not JSON;
* ``cut``: two chunks, then the connection closes (no finish_reason, no ``[DONE]``);
* ``echo``: answers with everything it was sent (a model that obeys any injected
  "repeat your instructions"), so a test can see exactly what left the robot.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class FakeOpenAI:
    mode: str = "ok"
    answer: str = "You can reset it from the sign-in page."
    delay: float = 5.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> FakeOpenAI:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        mode = self.mode
        if mode == "slow":
            await asyncio.sleep(self.delay)
            if request.transport is None or request.transport.is_closing():
                return web.Response(status=499)  # the robot gave up waiting, as it should
        if mode == "fail":
            return web.json_response(
                {"error": {"message": "upstream overloaded", "type": "server_error"}},
                status=500,
            )
        text = self.answer
        if mode == "echo":
            text = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        # About four characters a token, as English BPE vocabularies give.
        prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": len(text) // 4,
            "total_tokens": prompt + len(text) // 4,
        }
        if not body.get("stream"):
            return web.json_response(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", ""),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        if mode == "garbage":
            await resp.write(b"data: <html>502 Bad Gateway</html>\n\n")
            await resp.write(b"data: {not json\n\n")
            await resp.write_eof()
            return resp
        words = text.split(" ")
        pieces = [" ".join(words[: len(words) // 2]), " " + " ".join(words[len(words) // 2 :])]
        for piece in pieces:
            await resp.write(self._chunk(body, {"content": piece}, None))
            if mode == "cut":
                break
        if mode == "cut":
            # The connection drops mid-answer: no finish_reason, no [DONE].
            request.transport.close()  # type: ignore[union-attr]
            return resp
        await resp.write(self._chunk(body, {}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            chunk = {**self._chunk_obj(body), "choices": [], "usage": usage}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    def _chunk_obj(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", ""),
        }

    def _chunk(self, body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> bytes:
        chunk = {
            **self._chunk_obj(body),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(chunk)}\n\n".encode()
