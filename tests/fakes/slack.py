"""A local Slack for tests and the bench: the Web API methods the bridge calls, with the
request and response shapes of Slack's API reference, signed deliveries (Events API,
interactivity, slash commands) and Socket Mode.

It is a real HTTP and WebSocket server (aiohttp) on a free loopback port: the product's
slack-bolt and slack_sdk talk to it unchanged through ``SLACK_API_URL``. Faults on demand:
``fail(status, secs)`` answers 500s or 429s (with ``Retry-After``) for a while, and
``channel_rate_per_sec`` enforces Slack's "1 message per second per channel" with 429s.
It refuses what Slack refuses: blocks past Block Kit's limits (``slack_blocks``), a
``views.open`` without a fresh ``trigger_id`` (one an interaction carried, used once,
within 3 seconds). Delivery payloads are built in ``slack_payloads``.

It imports nothing else from ``tests`` (the bench uses it too; docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from tests.fakes import slack_payloads as payloads
from tests.fakes.slack_blocks import block_problems, view_problems
from tests.fakes.slack_payloads import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID

WRITE_METHODS = frozenset({"chat.postMessage", "chat.postEphemeral"})
TRIGGER_TTL_SECS = 3.0  # Slack: a trigger_id must be used within 3 seconds, once
TEXT_MAX = 40_000


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    thread_ts: str | None
    user: str
    bot_id: str | None
    metadata: dict[str, Any] | None = None
    blocks: list[Any] | None = None
    args: dict[str, Any] = field(default_factory=dict)

    def wire(self, *, with_metadata: bool) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "ts": self.ts,
            "text": self.text,
            "user": self.user,
            "team": TEAM_ID,
        }
        if self.bot_id:
            message["bot_id"] = self.bot_id
            message["app_id"] = APP_ID
            if self.args.get("username"):  # a post under another name is a bot_message
                message["subtype"] = "bot_message"
                message["username"] = self.args["username"]
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        if self.args.get("files"):  # a person's message with files: Slack's file_share
            message["subtype"] = "file_share"
            message["files"] = self.args["files"]
        if self.blocks:
            message["blocks"] = self.blocks
        if with_metadata and self.metadata:
            message["metadata"] = self.metadata
        return message


@dataclass
class SlackFile:
    """A file of the external upload flow: reserved by ``files.getUploadURLExternal``,
    its bytes POSTed to the upload URL, shared by ``files.completeUploadExternal``."""

    id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str = ""
    channel: str = ""
    thread_ts: str | None = None


class FakeSlack:
    def __init__(
        self,
        *,
        signing_secret: str = "test-signing-secret",
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
    ) -> None:
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.app_token = app_token
        self.messages: list[Posted] = []
        self.ephemeral: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.channel_rate_per_sec: float | None = None
        self.latency_secs = 0.0
        self._fail_until = 0.0
        self._fail_status = 500
        self._fail_retry_after = 1
        self._fail_methods: frozenset[str] | None = None
        self._last_post: dict[str, float] = {}
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.on_post: Callable[[Posted], None] | None = None
        self.files: dict[str, SlackFile] = {}  # file id -> an external upload, as it goes
        self.views: list[dict[str, Any]] = []  # modals opened with views.open, in order
        self._triggers: dict[str, float] = {}  # trigger_id -> when its interaction was sent
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=60 * 2**20)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk reads history with GET
        app.router.add_get("/socket-mode", self._socket_mode)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{file_id}/{name}", self._private_file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- faults -----------------------------------------------------------------------
    def fail(
        self,
        status: int,
        secs: float,
        *,
        retry_after: int = 1,
        methods: frozenset[str] | None = WRITE_METHODS,
    ) -> None:
        """Answer ``status`` (500, 503, 429 with Retry-After) for ``secs`` seconds."""
        self._fail_status, self._fail_retry_after = status, retry_after
        self._fail_methods = methods
        self._fail_until = time.monotonic() + secs

    def heal(self) -> None:
        self._fail_until = 0.0

    # -- the Web API ------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or str(
            args.get("token", "")
        )
        self.calls.append((method, args))
        if self.latency_secs:
            await asyncio.sleep(self.latency_secs)
        if time.monotonic() < self._fail_until and (
            self._fail_methods is None or method in self._fail_methods
        ):
            if self._fail_status == 429:
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(self._fail_retry_after)},
                )
            return web.Response(status=self._fail_status, text="upstream trouble")
        if method == "apps.connections.open":
            if token != self.app_token:
                return _error("invalid_auth")
            return web.json_response(
                {
                    "ok": True,
                    "url": f"ws://127.0.0.1:{self.port}/socket-mode?ticket={uuid.uuid4().hex}",
                }
            )
        if token != self.bot_token:
            return _error("invalid_auth" if token else "not_authed")
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return _error("unknown_method")
        return await handler(args)

    @staticmethod
    async def _args(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            args = dict(body) if isinstance(body, dict) else {}
        else:
            args = dict(await request.post())
        for key in ("metadata", "blocks", "view"):  # form posts carry these as JSON strings
            if isinstance(args.get(key), str):
                with contextlib.suppress(ValueError):
                    args[key] = json.loads(args[key])
        return {**dict(request.query), **args}

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    async def _auth_test(self, args: dict[str, Any]) -> web.Response:
        return web.json_response(
            {
                "ok": True,
                "url": "https://steady.slack.test/",
                "team": "Steady",
                "user": "bridge",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
            }
        )

    async def _chat_postMessage(self, args: dict[str, Any]) -> web.Response:
        channel = str(args.get("channel") or "")
        if not channel:
            return _error("channel_not_found")
        text = args.get("text")
        if not text and not args.get("blocks"):
            return _error("no_text")
        if len(str(text or "")) > TEXT_MAX:
            return _error("msg_too_long")
        if "blocks" in args and (problems := block_problems(args["blocks"])):
            return _error("invalid_blocks", problems)
        if self.channel_rate_per_sec:
            now = time.monotonic()
            wait = self._last_post.get(channel, -1e9) + 1 / self.channel_rate_per_sec - now
            if wait > 0:
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(max(1, round(wait)))},
                )
            self._last_post[channel] = now
        thread_ts = args.get("thread_ts") or None
        if thread_ts and not any(m.ts == thread_ts and m.channel == channel for m in self.messages):
            return _error("thread_not_found")
        posted = Posted(
            channel,
            self._next_ts(),
            str(text or ""),
            thread_ts,
            BOT_USER_ID,
            BOT_ID,
            args.get("metadata") if isinstance(args.get("metadata"), dict) else None,
            args.get("blocks") if isinstance(args.get("blocks"), list) else None,
            args,
        )
        self.messages.append(posted)
        if self.on_post is not None:
            self.on_post(posted)
        return web.json_response(
            {
                "ok": True,
                "channel": channel,
                "ts": posted.ts,
                "message": posted.wire(with_metadata=True),
            }
        )

    # -- the external upload flow (files.upload is retired) ---------------------------
    async def _files_getUploadURLExternal(self, args: dict[str, Any]) -> web.Response:
        filename = str(args.get("filename") or "")
        try:
            length = int(args.get("length") or 0)
        except ValueError:
            length = 0
        if not filename or length <= 0:
            return _error("invalid_arguments")
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self.files[file_id] = SlackFile(file_id, filename, length)
        url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
        return web.json_response({"ok": True, "upload_url": url, "file_id": file_id})

    async def _upload(self, request: web.Request) -> web.Response:
        file = self.files.get(request.match_info["file_id"])
        if file is None:
            return web.Response(status=404, text="not found")
        data = await request.read()
        if len(data) != file.length:
            return web.Response(status=400, text="length mismatch")
        file.data = data
        return web.Response(text=f"OK - {len(data)}")

    async def _files_completeUploadExternal(self, args: dict[str, Any]) -> web.Response:
        try:
            wanted = json.loads(str(args.get("files") or "[]"))
        except ValueError:
            return _error("invalid_arguments")
        channel = str(args.get("channel_id") or "")
        thread_ts = args.get("thread_ts") or None
        if not channel:
            return _error("invalid_arguments")
        if thread_ts and not any(m.ts == thread_ts and m.channel == channel for m in self.messages):
            return _error("invalid_thread_ts")
        done: list[dict[str, Any]] = []
        for row in wanted if isinstance(wanted, list) else []:
            file = self.files.get(str(row.get("id"))) if isinstance(row, dict) else None
            if file is None or file.data is None:
                return _error("file_not_found")
            file.title, file.channel, file.thread_ts = (
                str(row.get("title") or ""),
                channel,
                thread_ts,
            )
            done.append(
                {"id": file.id, "name": file.filename, "title": file.title, "size": len(file.data)}
            )
        if not done:
            return _error("invalid_arguments")
        return web.json_response({"ok": True, "files": done})

    def user_file_message(
        self, channel: str, thread_ts: str, user: str, name: str, data: bytes, text: str = ""
    ) -> Posted:
        """A person posts a file in a thread (with ``text`` as its comment)."""
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self.files[file_id] = SlackFile(file_id, name, len(data), data, name, channel, thread_ts)
        url = f"http://127.0.0.1:{self.port}/files-pri/{file_id}/{name}"
        files = [
            {
                "id": file_id,
                "name": name,
                "title": name,
                "size": len(data),
                "mimetype": "application/octet-stream",
                "url_private": url,
                "url_private_download": url + "?download=1",
            }
        ]
        posted = Posted(
            channel, self._next_ts(), text, thread_ts, user, None, args={"files": files}
        )
        self.messages.append(posted)
        return posted

    async def _private_file(self, request: web.Request) -> web.Response:
        """``url_private_download``: only with the bot token (Slack never gives the file
        to anyone else)."""
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        file = self.files.get(request.match_info["file_id"])
        if token != self.bot_token or file is None or file.data is None:
            return web.Response(status=403, text="sign in to Slack")
        return web.Response(body=file.data, content_type="application/octet-stream")

    def shared_files(self, channel: str, thread_ts: str) -> list[SlackFile]:
        return [f for f in self.files.values() if f.channel == channel and f.thread_ts == thread_ts]

    async def _chat_postEphemeral(self, args: dict[str, Any]) -> web.Response:
        if not args.get("channel") or not args.get("user"):
            return _error("invalid_arguments")
        self.ephemeral.append(dict(args))
        return web.json_response({"ok": True, "message_ts": self._next_ts()})

    async def _chat_getPermalink(self, args: dict[str, Any]) -> web.Response:
        channel, ts = str(args.get("channel") or ""), str(args.get("message_ts") or "")
        message = next((m for m in self.messages if m.channel == channel and m.ts == ts), None)
        if message is None:
            return _error("message_not_found")
        link = f"https://steady.slack.test/archives/{channel}/p{ts.replace('.', '')}"
        if message.thread_ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel}"
        return web.json_response({"ok": True, "channel": channel, "permalink": link})

    async def _views_open(self, args: dict[str, Any]) -> web.Response:
        trigger = str(args.get("trigger_id") or "")
        issued = self._triggers.pop(trigger, None)
        if issued is None:
            return _error("invalid_trigger_id")
        if time.monotonic() - issued > TRIGGER_TTL_SECS:
            return _error("expired_trigger_id")
        view = args.get("view")
        if problems := view_problems(view):
            return _error("invalid_arguments", problems)
        assert isinstance(view, dict)
        opened = {
            "id": f"V{uuid.uuid4().hex[:10].upper()}",
            "team_id": TEAM_ID,
            "type": "modal",
            "blocks": view.get("blocks") or [],
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "title": view["title"],
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": None,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        opened["root_view_id"] = opened["id"]
        self.views.append(opened)
        return web.json_response({"ok": True, "view": opened})

    async def _conversations_replies(self, args: dict[str, Any]) -> web.Response:
        channel, ts = str(args.get("channel")), str(args.get("ts"))
        meta = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        thread = [
            m for m in self.messages if m.channel == channel and (m.ts == ts or m.thread_ts == ts)
        ]
        if not thread:
            return _error("thread_not_found")
        return self._page(sorted(thread, key=_ts_key), args, meta)

    async def _conversations_history(self, args: dict[str, Any]) -> web.Response:
        channel = str(args.get("channel"))
        meta = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        top = [m for m in self.messages if m.channel == channel and not m.thread_ts]
        return self._page(sorted(top, key=_ts_key, reverse=True), args, meta)

    @staticmethod
    def _page(rows: list[Posted], args: dict[str, Any], meta: bool) -> web.Response:
        limit = int(args.get("limit") or 100)
        start = int(args.get("cursor") or 0)
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        return web.json_response(
            {
                "ok": True,
                "messages": [m.wire(with_metadata=meta) for m in page],
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            }
        )

    # -- what tests read --------------------------------------------------------------
    def roots(self, channel: str | None = None) -> list[Posted]:
        return [
            m
            for m in self.messages
            if not m.thread_ts and (channel is None or m.channel == channel)
        ]

    def root_of(self, conv: str) -> Posted | None:
        for m in self.messages:
            meta = m.metadata or {}
            if (
                meta.get("event_type") == "steadydesk_thread"
                and (meta.get("event_payload") or {}).get("conv") == conv
            ):
                return m
        return None

    def thread(self, channel: str, root_ts: str) -> list[Posted]:
        return sorted(
            (m for m in self.messages if m.channel == channel and m.thread_ts == root_ts),
            key=_ts_key,
        )

    def bot_thread(self, conv: str) -> list[Posted]:
        """The bridge's own posts in a conversation's thread, in order."""
        root = self.root_of(conv)
        if root is None:
            return []
        return [m for m in self.thread(root.channel, root.ts) if m.bot_id]

    # -- deliveries to the bridge ----------------------------------------------------
    def user_message(self, channel: str, thread_ts: str, user: str, text: str) -> Posted:
        """A person writes in a thread (Slack stores it, then delivers the event)."""
        posted = Posted(channel, self._next_ts(), text, thread_ts, user, None)
        self.messages.append(posted)
        return posted

    def trigger(self) -> str:
        """A trigger_id, as an interaction carries one (views.open takes it within 3 s)."""
        trigger_id = payloads.new_trigger_id()
        self._triggers[trigger_id] = time.monotonic()
        return trigger_id

    @staticmethod
    def message_event(posted: Posted, *, event_id: str | None = None) -> dict[str, Any]:
        """The ``message`` event of a person's message (or, for a bot post, of the app's
        own post coming back: Slack delivers those to the app too)."""
        return payloads.message_event(
            posted.wire(with_metadata=False), posted.channel, event_id=event_id
        )

    @staticmethod
    def edit_event(posted: Posted, new_text: str) -> dict[str, Any]:
        return payloads.changed_event(
            posted.wire(with_metadata=False), posted.channel, new_text, edited_by=posted.user
        )

    @staticmethod
    def unfurl_event(posted: Posted) -> dict[str, Any]:
        """``message_changed`` that is not an edit: Slack attached a link preview."""
        return payloads.changed_event(
            posted.wire(with_metadata=False), posted.channel, posted.text, edited_by=None
        )

    @staticmethod
    def delete_event(posted: Posted) -> dict[str, Any]:
        return payloads.deleted_event(posted.wire(with_metadata=False), posted.channel)

    def button_payload(
        self, conv: str, action_id: str, user: str, channel: str, root_ts: str
    ) -> dict[str, Any]:
        return payloads.button_payload(conv, action_id, user, channel, root_ts, self.trigger())

    def shortcut_payload(self, message: Posted, user: str) -> dict[str, Any]:
        return payloads.shortcut_payload(
            message.wire(with_metadata=False), message.channel, user, self.trigger()
        )

    def view_submission(
        self, view: dict[str, Any], user: str, values: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        return payloads.view_submission(view, user, values, self.trigger())

    def command_fields(self, text: str, user: str, channel: str) -> dict[str, str]:
        return payloads.command_fields(text, user, channel, self.trigger())

    def signed_headers(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        content_type: str,
    ) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(secret or self.signing_secret, ts, body),
        }

    async def post_event(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        retry_num: int = 0,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> tuple[int, str]:
        body = json.dumps(payload).encode()
        headers = self.signed_headers(
            body, timestamp=timestamp, secret=secret, content_type="application/json"
        )
        if retry_num:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return await _post(url, body, headers)

    async def post_form(
        self, url: str, fields: dict[str, str], *, timestamp: int | None = None
    ) -> tuple[int, str]:
        body = urlencode(fields).encode()
        headers = self.signed_headers(
            body, timestamp=timestamp, content_type="application/x-www-form-urlencoded"
        )
        return await _post(url, body, headers)

    async def post_interaction(self, url: str, payload: dict[str, Any]) -> tuple[int, str]:
        return await self.post_form(url, {"payload": json.dumps(payload)})

    # -- Socket Mode ------------------------------------------------------------------
    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self._sockets.add(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "connection_info": {"app_id": APP_ID},
                "debug_info": {"host": "fake", "approximate_connection_time": 3600},
            }
        )
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                future = self._acks.pop(str(data.get("envelope_id")), None)
                if future is not None and not future.done():
                    future.set_result(data)
        finally:
            self._sockets.discard(ws)
        return ws

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    async def send_envelope(
        self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0, wait_secs: float = 10.0
    ) -> dict[str, Any]:
        """Deliver over Socket Mode and wait for the app's acknowledgement."""
        if not self._sockets:
            raise RuntimeError("no Socket Mode connection")
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = future
        ws = next(iter(self._sockets))
        await ws.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return await asyncio.wait_for(future, wait_secs)


def _ts_key(posted: Posted) -> tuple[int, int]:
    seconds, _, counter = posted.ts.partition(".")
    return int(seconds), int(counter)


def _error(code: str, problems: list[str] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error": code}
    if problems:
        body["response_metadata"] = {"messages": [f"[ERROR] {p}" for p in problems]}
    return web.json_response(body)


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=15)
        ) as resp,
    ):
        return resp.status, await resp.text()
