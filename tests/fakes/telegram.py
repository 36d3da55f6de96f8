"""A local Telegram Bot API for tests and the bench: the methods the bridge calls, with the
request and response shapes of core.telegram.org/bots/api (``{"ok": true, "result": ...}``,
errors as ``{"ok": false, "error_code", "description", "parameters": {"retry_after"}}``).

It is a real HTTP server (aiohttp) on a free loopback port at ``/bot<token>/<method>``;
the product's python-telegram-bot talks to it unchanged through ``TELEGRAM_API_URL``.
People write with :meth:`FakeTelegram.write` (a topic of the agents' supergroup) and
:meth:`FakeTelegram.write_private`; each makes an update that the bridge receives by
``getUpdates`` (offsets confirm, as Telegram's do) or, after ``setWebhook``, by a POST with
``X-Telegram-Bot-Api-Secret-Token``, one at a time, delivered again until it gets a 2xx.
Posts in HTML parse mode are parsed as Telegram does (unknown tags or bad entities: 400),
so :attr:`Posted.plain` is what people would read. Faults on demand: ``fail(status,
secs)`` answers 500s or 429s with ``retry_after``; ``group_per_minute`` enforces Telegram's
"no more than 20 messages per minute in the same group" with 429s.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.web_request import FileField

BOT_ID = 7000000001
BOT_USERNAME = "SteadyTestBot"
GROUP_ID = -1001000000001
GROUP_TITLE = "Support desk"
WRITE_METHODS = frozenset(
    {"sendMessage", "createForumTopic", "closeForumTopic", "reopenForumTopic"}
)
COUNTED_METHODS = frozenset({"sendMessage", "createForumTopic"})  # make a message each
TEXT_MAX = 4096
TOPIC_NAME_MAX = 128
_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
}


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def response(self) -> web.Response:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.code)


class _Entities(HTMLParser):
    """Telegram's HTML parse mode: the plain text and its entities, or a 400 ("All <, >
    and & symbols that are not a part of a tag or an HTML entity must be replaced")."""

    _NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.plain: list[str] = []
        self.entities: list[dict[str, Any]] = []
        self._open: list[tuple[str, int, dict[str, str]]] = []

    def _offset(self) -> int:
        return len("".join(self.plain).encode("utf-16-le")) // 2

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS and not (tag == "span" and ("class", "tg-spoiler") in attrs):
            raise _bad(f'Unsupported start tag "{tag}"')
        self._open.append((tag, self._offset(), {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1][0] != tag:
            raise _bad(f'Unmatched end tag "{tag}"')
        name, start, attrs = self._open.pop()
        entity: dict[str, Any] = {
            "type": _TAGS.get(name, "spoiler"),
            "offset": start,
            "length": self._offset() - start,
        }
        if name == "a":
            entity["url"] = attrs.get("href", "")
        if entity["length"]:
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        if any(c in data for c in "<>&"):
            raise _bad("unescaped character in text")
        self.plain.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in self._NAMED:
            raise _bad(f'Unsupported HTML entity "&{name};"')
        self.plain.append(self._NAMED[name])

    def handle_charref(self, name: str) -> None:
        self.plain.append(chr(int(name[1:], 16) if name[:1] in "xX" else int(name)))

    def parse(self, text: str) -> tuple[str, list[dict[str, Any]]]:
        self.feed(text)
        self.close()
        if self._open:
            raise _bad(f"Can't find end tag corresponding to start tag {self._open[-1][0]}")
        return "".join(self.plain), sorted(self.entities, key=lambda e: e["offset"])


def _bad(why: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {why}")


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    return _Entities().parse(text)


@dataclass
class Topic:
    chat_id: int
    thread_id: int
    name: str
    closed: bool = False
    icon_color: int = 7322096


@dataclass
class Posted:
    """A message in a chat, as the fake keeps it."""

    chat_id: int
    message_id: int
    thread_id: int | None
    plain: str  # what people read
    from_id: int
    raw: str = ""  # the text as sent (HTML)
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_to: int | None = None
    service: str = ""  # forum_topic_created, forum_topic_closed, ...
    args: dict[str, Any] = field(default_factory=dict)
    date: int = field(default_factory=lambda: int(time.time()))
    upload: tuple[str, str, bytes] | None = None  # sendPhoto/sendDocument: (kind, name, bytes)

    @property
    def from_bot(self) -> bool:
        return self.from_id == BOT_ID


@dataclass
class Person:
    id: int
    first_name: str
    username: str = ""
    last_name: str = ""

    def wire(self) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": "en",
        }
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        return user


BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Steadydesk", "username": BOT_USERNAME}


class FakeTelegram:
    def __init__(self, *, token: str = "123456:TEST-token_abc", group_id: int = GROUP_ID) -> None:
        self.token = token
        self.group_id = group_id
        self.people_files: dict[str, bytes] = {}  # file_id -> bytes of files people sent
        self.chats: dict[int, dict[str, Any]] = {}
        self.add_group(group_id, GROUP_TITLE)
        self.messages: list[Posted] = []
        self.topics: dict[tuple[int, int], Topic] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: deque[dict[str, Any]] = deque()  # not yet confirmed
        self._repeats: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] = {}
        self.webhook_deliveries: list[tuple[int, int]] = []  # (update_id, status)
        self.group_per_minute: int | None = None
        self.latency_secs = 0.0
        self.on_post: Callable[[Posted], None] | None = None
        self._ids: dict[int, itertools.count[int]] = {}
        self._update_ids = itertools.count(500_000_001)
        self._sent: dict[int, deque[float]] = {}
        self._fail_until = 0.0
        self._fail_status = 500
        self._fail_retry_after = 1
        self._fail_methods: frozenset[str] | None = WRITE_METHODS
        self._new_update = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._pusher: asyncio.Task[None] | None = None
        self._closing = False
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """``TELEGRAM_API_URL``: the token and ``/<method>`` are appended."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=60 * 2**20)  # the Bot API takes 50 MB files
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._pusher = asyncio.get_running_loop().create_task(self._push_webhooks())
        return self

    async def stop(self) -> None:
        self._closing = True
        self._new_update.set()  # long polls answer now
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def add_group(self, chat_id: int, title: str) -> None:
        self.chats[chat_id] = {
            "id": chat_id,
            "title": title,
            "type": "supergroup",
            "is_forum": True,
        }

    # -- faults -----------------------------------------------------------------------
    def fail(
        self,
        status: int,
        secs: float,
        *,
        retry_after: int = 1,
        methods: frozenset[str] | None = WRITE_METHODS,
    ) -> None:
        """Answer ``status`` (500, 502, 429 with ``retry_after``) for ``secs`` seconds."""
        self._fail_status, self._fail_retry_after = status, retry_after
        self._fail_methods = methods
        self._fail_until = time.monotonic() + secs

    def heal(self) -> None:
        self._fail_until = 0.0

    # -- the Bot API ------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        self.calls.append((method, args))
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        if self.latency_secs:
            await asyncio.sleep(self.latency_secs)
        try:
            if time.monotonic() < self._fail_until and (
                self._fail_methods is None or method in self._fail_methods
            ):
                if self._fail_status == 429:
                    raise ApiError(
                        429,
                        f"Too Many Requests: retry after {self._fail_retry_after}",
                        self._fail_retry_after,
                    )
                raise ApiError(self._fail_status, "Internal Server Error")
            handler = getattr(self, "_m_" + method, None)
            if handler is None:
                raise ApiError(404, "Not Found")
            if method in COUNTED_METHODS:
                self._count(int(args.get("chat_id") or 0))
            result = await handler(args)
        except ApiError as exc:
            return exc.response()
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _args(request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                args.update(body if isinstance(body, dict) else {})
            else:
                args.update(dict(await request.post()))
        for key, value in list(args.items()):  # form posts carry objects as JSON strings
            if isinstance(value, str) and value[:1] in ("{", "["):
                with contextlib.suppress(ValueError):
                    args[key] = json.loads(value)
        return args

    def _count(self, chat_id: int) -> None:
        if not self.group_per_minute or chat_id >= 0:
            return
        now = time.monotonic()
        sent = self._sent.setdefault(chat_id, deque())
        while sent and sent[0] <= now - 60:
            sent.popleft()
        if len(sent) >= self.group_per_minute:
            wait = max(1, math.ceil(sent[0] + 60 - now))
            raise ApiError(429, f"Too Many Requests: retry after {wait}", wait)
        sent.append(now)

    def _chat(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            chat = self.chats.get(int(args.get("chat_id") or 0))
        except (TypeError, ValueError):
            chat = None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _next_id(self, chat_id: int) -> int:
        return next(self._ids.setdefault(chat_id, itertools.count(2)))

    async def _m_getFile(self, args: dict[str, Any]) -> dict[str, Any]:
        """A file people sent: its ``file_path`` under ``/file/bot<token>/``."""
        file_id = str(args.get("file_id") or "")
        data = self.people_files.get(file_id)
        if data is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(data),
            "file_path": f"documents/{file_id}.bin",
        }

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        file_id = request.match_info["path"].rsplit("/", 1)[-1].removesuffix(".bin")
        data = self.people_files.get(file_id)
        if data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=data, content_type="application/octet-stream")

    def send_document(
        self, person: Person, thread_id: int, name: str, data: bytes, caption: str = ""
    ) -> dict[str, Any]:
        """``person`` posts a file (with a caption) in a topic; returns the update."""
        posted = Posted(self.group_id, self._next_id(self.group_id), thread_id, "", person.id)
        self.messages.append(posted)
        file_id = f"BQAD{posted.message_id}"
        self.people_files[file_id] = data
        message = self._wire(posted, person)
        message["document"] = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": name,
            "file_size": len(data),
        }
        if caption:
            message["caption"] = caption
        return self.enqueue("message", message)

    def send_voice(self, person: Person, thread_id: int) -> dict[str, Any]:
        """A voice note: something the bridge does not pass on."""
        posted = Posted(self.group_id, self._next_id(self.group_id), thread_id, "", person.id)
        self.messages.append(posted)
        message = self._wire(posted, person)
        message["voice"] = {"file_id": "AwAD", "file_unique_id": "AQAD", "duration": 2}
        return self.enqueue("message", message)

    async def _m_getMe(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            **BOT_USER,
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": False,
        }

    async def _m_createForumTopic(self, args: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(args)
        name = str(args.get("name") or "")
        if not 1 <= len(name) <= TOPIC_NAME_MAX:
            raise ApiError(
                400,
                "Bad Request: TOPIC_TITLE_EMPTY"
                if not name
                else "Bad Request: TOPIC_TITLE_INVALID",
            )
        if not chat.get("is_forum"):
            raise ApiError(400, "Bad Request: the chat is not a forum")
        thread_id = self._next_id(chat["id"])
        topic = Topic(
            chat["id"], thread_id, name, icon_color=int(args.get("icon_color") or 7322096)
        )
        self.topics[(chat["id"], thread_id)] = topic
        self._store(
            Posted(chat["id"], thread_id, thread_id, "", BOT_ID, service="forum_topic_created")
        )
        return {"message_thread_id": thread_id, "name": name, "icon_color": topic.icon_color}

    def _topic(self, args: dict[str, Any]) -> Topic:
        chat = self._chat(args)
        try:
            thread_id = int(args.get("message_thread_id") or 0)
        except (TypeError, ValueError):
            thread_id = 0
        topic = self.topics.get((chat["id"], thread_id))
        if topic is None:
            raise ApiError(400, "Bad Request: message thread not found")
        return topic

    async def _m_closeForumTopic(self, args: dict[str, Any]) -> bool:
        return self._set_closed(self._topic(args), True)

    async def _m_reopenForumTopic(self, args: dict[str, Any]) -> bool:
        return self._set_closed(self._topic(args), False)

    def _set_closed(self, topic: Topic, closed: bool) -> bool:
        if topic.closed == closed:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic.closed = closed
        service = "forum_topic_closed" if closed else "forum_topic_reopened"
        self._store(
            Posted(
                topic.chat_id,
                self._next_id(topic.chat_id),
                topic.thread_id,
                "",
                BOT_ID,
                service=service,
            )
        )
        return True

    async def _m_sendMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(args)
        text = str(args.get("text") or "")
        if args.get("parse_mode") == "HTML":
            plain, entities = parse_html(text)
        elif args.get("parse_mode"):
            raise ApiError(400, f"Bad Request: unsupported parse_mode {args['parse_mode']}")
        else:
            plain, entities = text, []
        if not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(plain.encode("utf-16-le")) // 2 > TEXT_MAX:
            raise ApiError(400, "Bad Request: message is too long")
        thread_id = None
        if args.get("message_thread_id") not in (None, ""):
            thread_id = self._topic(args).thread_id
        reply = (
            args.get("reply_parameters") if isinstance(args.get("reply_parameters"), dict) else {}
        )
        reply_to = reply.get("message_id") if reply else None
        if reply_to and not any(
            m.chat_id == chat["id"] and m.message_id == reply_to for m in self.messages
        ):
            if not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
            reply_to = None
        posted = Posted(
            chat["id"],
            self._next_id(chat["id"]),
            thread_id,
            plain,
            BOT_ID,
            raw=text,
            entities=entities,
            reply_to=reply_to,
            args=args,
        )
        self._store(posted)
        return self._wire(posted)

    async def _m_sendPhoto(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._send_file("photo", args)

    async def _m_sendDocument(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._send_file("document", args)

    def _send_file(self, kind: str, args: dict[str, Any]) -> dict[str, Any]:
        """The Bot API's upload: the file as a multipart part named after the method's
        field (``photo``, ``document``), or an ``attach://name`` pointing at one."""
        chat = self._chat(args)
        part = args.get(kind)
        if isinstance(part, str) and part.startswith("attach://"):
            part = args.get(part.removeprefix("attach://"))
        if not isinstance(part, FileField):
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        data = part.file.read()
        if not data:
            raise ApiError(400, "Bad Request: file must be non-empty")
        if kind == "photo" and len(data) > 10 * 1024 * 1024:
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        thread_id = None
        if args.get("message_thread_id") not in (None, ""):
            thread_id = self._topic(args).thread_id
        name = part.filename or kind
        posted = Posted(
            chat["id"],
            self._next_id(chat["id"]),
            thread_id,
            "",
            BOT_ID,
            args={k: v for k, v in args.items() if not isinstance(v, FileField)},
            upload=(kind, name, data),
        )
        self._store(posted)
        message = self._wire(posted)
        if kind == "photo":
            message["photo"] = [
                {
                    "file_id": f"P{posted.message_id}",
                    "file_unique_id": "u",
                    "width": 90,
                    "height": 90,
                    "file_size": len(data),
                }
            ]
        else:
            message["document"] = {
                "file_id": f"D{posted.message_id}",
                "file_unique_id": "u",
                "file_name": name,
                "file_size": len(data),
            }
        return message

    def uploads(self, thread_id: int) -> list[tuple[str, str, bytes]]:
        return [m.upload for m in self.messages if m.thread_id == thread_id and m.upload]

    async def _m_setWebhook(self, args: dict[str, Any]) -> bool:
        url = str(args.get("url") or "")
        if not url:
            self.webhook = {}
            return True
        secret = str(args.get("secret_token") or "")
        if secret and not all(c.isalnum() or c in "_-" for c in secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": int(args.get("max_connections") or 40),
            "allowed_updates": args.get("allowed_updates") or [],
        }
        if str(args.get("drop_pending_updates")).lower() == "true":
            self.updates.clear()
        self._new_update.set()
        return True

    async def _m_deleteWebhook(self, args: dict[str, Any]) -> bool:
        self.webhook = {}
        if str(args.get("drop_pending_updates")).lower() == "true":
            self.updates.clear()
        return True

    async def _m_getWebhookInfo(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
            "max_connections": self.webhook.get("max_connections", 40),
            "allowed_updates": self.webhook.get("allowed_updates", []),
        }

    async def _m_getUpdates(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = int(args.get("offset") or 0)
        if offset:  # every update below the offset is confirmed
            self.updates = deque(u for u in self.updates if u["update_id"] >= offset)
        limit = max(1, min(100, int(args.get("limit") or 100)))
        deadline = time.monotonic() + max(0, int(args.get("timeout") or 0))
        allowed = args.get("allowed_updates") or []
        while True:
            again, self._repeats = self._repeats, []
            ready = again + [u for u in self.updates if not allowed or any(k in u for k in allowed)]
            if ready or time.monotonic() >= deadline or self.webhook or self._closing:
                return ready[:limit]
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())

    # -- webhook deliveries -----------------------------------------------------------
    async def _push_webhooks(self) -> None:
        """One update at a time, in order; again after a non-2xx (Telegram retries)."""
        async with aiohttp.ClientSession() as session:
            # Stops on _closing, not only on cancel: Python 3.11's wait_for may swallow a
            # cancel that arrives as its event is set.
            while not self._closing:
                if not self.webhook or not self.updates:
                    self._new_update.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._new_update.wait(), 0.5)
                    continue
                update = self.updates[0]
                status = await self.deliver(
                    self.webhook["url"],
                    update,
                    secret=self.webhook["secret_token"],
                    session=session,
                )
                self.webhook_deliveries.append((update["update_id"], status))
                if 200 <= status < 300:
                    if self.updates and self.updates[0] is update:
                        self.updates.popleft()
                else:
                    await asyncio.sleep(0.5)

    async def deliver(
        self,
        url: str,
        update: dict[str, Any],
        *,
        secret: str | None,
        session: aiohttp.ClientSession | None = None,
    ) -> int:
        """POST one update to a webhook URL (``secret`` None: no header); the status."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        own = session is None
        session = session or aiohttp.ClientSession()
        try:
            async with session.post(
                url,
                data=json.dumps(update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=15),
            ) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError):
            return 0
        finally:
            if own:
                await session.close()

    # -- people writing ---------------------------------------------------------------
    def _store(self, posted: Posted) -> None:
        self.messages.append(posted)
        if posted.from_bot and not posted.service and self.on_post is not None:
            self.on_post(posted)

    def _wire(self, posted: Posted, person: Person | None = None) -> dict[str, Any]:
        chat = self.chats[posted.chat_id]
        message: dict[str, Any] = {
            "message_id": posted.message_id,
            "from": BOT_USER if posted.from_bot else (person.wire() if person else {}),
            "chat": chat,
            "date": posted.date,
        }
        if posted.thread_id is not None:
            message["message_thread_id"] = posted.thread_id
            message["is_topic_message"] = True
        if posted.plain:
            message["text"] = posted.plain
        if posted.entities:
            message["entities"] = posted.entities
        if posted.reply_to:
            message["reply_to_message"] = {
                "message_id": posted.reply_to,
                "chat": chat,
                "date": posted.date,
            }
        return message

    def enqueue(self, kind: str, message: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), kind: message}
        self.updates.append(update)
        self._new_update.set()
        return update

    def repeat(self, update: dict[str, Any]) -> None:
        """Deliver an update again with the same ``update_id``, confirmed or not (as a
        webhook delivery whose answer was lost is; getUpdates gets it next time too)."""
        if self.webhook:
            self.updates.appendleft(update)
        else:
            self._repeats.append(update)
        self._new_update.set()

    def write(
        self, person: Person, thread_id: int, text: str, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """``person`` writes ``text`` in a topic; returns the update."""
        chat = chat_id if chat_id is not None else self.group_id
        posted = Posted(chat, self._next_id(chat), thread_id, text, person.id, raw=text)
        if text.startswith("/"):
            word = text.split()[0]
            posted.entities = [{"type": "bot_command", "offset": 0, "length": len(word)}]
        self.messages.append(posted)
        return self.enqueue("message", self._wire(posted, person))

    def send_photo(self, person: Person, thread_id: int) -> dict[str, Any]:
        posted = Posted(self.group_id, self._next_id(self.group_id), thread_id, "", person.id)
        self.messages.append(posted)
        message = self._wire(posted, person)
        message["photo"] = [
            {"file_id": "AgAD", "file_unique_id": "AQAD", "width": 90, "height": 90}
        ]
        return self.enqueue("message", message)

    def write_private(self, person: Person, text: str) -> dict[str, Any]:
        """``person`` writes to the bot (after pressing Start, the chat exists)."""
        chat = {"id": person.id, "first_name": person.first_name, "type": "private"}
        if person.username:
            chat["username"] = person.username
        self.chats.setdefault(person.id, chat)
        posted = Posted(person.id, self._next_id(person.id), None, text, person.id, raw=text)
        if text.startswith("/"):
            posted.entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        self.messages.append(posted)
        return self.enqueue("message", self._wire(posted, person))

    def edit(self, person: Person, update: dict[str, Any], new_text: str) -> dict[str, Any]:
        message = dict(update["message"])
        message["text"] = new_text
        message["edit_date"] = int(time.time())
        return self.enqueue("edited_message", message)

    # -- what tests read --------------------------------------------------------------
    def topic_named(self, name: str, chat_id: int | None = None) -> Topic | None:
        chat = chat_id if chat_id is not None else self.group_id
        found = [t for t in self.topics.values() if t.name == name and t.chat_id == chat]
        return found[-1] if found else None

    def topics_named(self, name: str) -> list[Topic]:
        return [t for t in self.topics.values() if t.name == name]

    def bot_posts(self, thread_id: int, chat_id: int | None = None) -> list[Posted]:
        """The bot's own messages in a topic, in order (service messages left out)."""
        chat = chat_id if chat_id is not None else self.group_id
        return [
            m
            for m in self.messages
            if m.chat_id == chat and m.thread_id == thread_id and m.from_bot and not m.service
        ]

    def texts(self, thread_id: int, chat_id: int | None = None) -> list[str]:
        return [m.plain for m in self.bot_posts(thread_id, chat_id)]

    def private_answers(self, person: Person) -> list[str]:
        return [m.plain for m in self.messages if m.chat_id == person.id and m.from_bot]

    def replies_to(self, update: dict[str, Any]) -> list[Posted]:
        message = update.get("message") or update.get("edited_message") or {}
        return [
            m
            for m in self.messages
            if m.from_bot
            and m.reply_to == message.get("message_id")
            and m.chat_id == message.get("chat", {}).get("id")
        ]
