"""The Telegram :class:`~bots.core.platform.Platform`: Bot API calls through
python-telegram-bot's :class:`telegram.Bot` (``base_url`` from ``TELEGRAM_API_URL``), one
forum topic per conversation in the agents' supergroup, and updates either from a webhook
(``TELEGRAM_WEBHOOK_URL`` set: ``setWebhook`` with the secret, ``POST /telegram/webhook``)
or by long polling ``getUpdates``.

Telegram offers no way to read back what a bot posted, so :meth:`find` and
:meth:`find_thread` cannot find anything: after a crash between Telegram's accept and the
local commit the core posts again (docs/bridges.md, "The duplicate window").
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hmac
import logging
import os
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import orjson
from sanic import HTTPResponse, Request
from sanic.response import json as json_response
from telegram import Bot, InputFile, LinkPreviewOptions, Message, ReplyParameters, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bots.core.commands import Request as Asked
from bots.core.commands import read_reply
from bots.core.config import BridgeConfig, ConfigError
from bots.core.model import ChatUser, Conversation, FileRef, IncomingFile, Item, ThreadRef
from bots.core.platform import (
    HttpHandler,
    Platform,
    PlatformError,
    PlatformRefused,
    PlatformUnavailable,
    RateLimited,
    ThreadStart,
)
from bots.telegram import render
from bots.telegram.updates import UpdateHandler

if TYPE_CHECKING:
    from bots.core.bridge import Bridge

log = logging.getLogger(__name__)
T = TypeVar("T")

# httpx logs each request's URL at INFO, and a Bot API URL holds the bot token.
logging.getLogger("httpx").setLevel(logging.WARNING)
# python-telegram-bot's v23 behaviour, chosen now: time periods (retry_after) are timedeltas,
# and reading them warns about nothing. Read at each use, so setting it here is enough.
os.environ.setdefault("PTB_TIMEDELTA", "true")

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
ALLOWED_UPDATES = ("message", "edited_message")
API_TIMEOUT_SECS = 10.0
POLL_TIMEOUT_SECS = 25
POLL_RETRY_SECS = (0.5, 15.0)  # first and longest wait after a failed getUpdates
# Updates of one chat must be handled in order; one at a time is what Telegram then sends.
WEBHOOK_MAX_CONNECTIONS = 1
UNCHANGED = "TOPIC_NOT_MODIFIED"  # closing a closed topic, reopening an open one
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})  # others as documents
PHOTO_MAX_BYTES = 10 * 1024 * 1024  # the Bot API's limit for sendPhoto


def file_url(api_url: str) -> str:
    """The Bot API's file address beside ``api_url`` (``…/bot`` → ``…/file/bot``)."""
    base = api_url.rstrip("/")
    return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file/bot"


def _seconds(value: int | float | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class TelegramPlatform(Platform):
    kind = "telegram"
    continues_previous = True
    root_shows_first = False  # a topic has a name only; the intro notice opens it
    link_usage = "Send /link CODE here, with the code from the agent console (F2)."
    usage = (
        "Write in this topic to answer the visitor. /note <text> (or note: <text>) adds a "
        "private note; /claim, /close and /transfer <agent or department name> act on the "
        "conversation."
    )

    def __init__(
        self,
        *,
        token: str,
        api_url: str,
        chat: str,
        chat_map: dict[str, str],
        webhook_url: str = "",
        webhook_secret: str = "",
    ) -> None:
        self.chat = chat
        self.chat_map = chat_map
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        request = HTTPXRequest(
            connection_pool_size=32,
            read_timeout=API_TIMEOUT_SECS,
            write_timeout=API_TIMEOUT_SECS,
            connect_timeout=API_TIMEOUT_SECS,
            pool_timeout=API_TIMEOUT_SECS,
        )
        polling = HTTPXRequest(
            connection_pool_size=1,
            read_timeout=POLL_TIMEOUT_SECS + API_TIMEOUT_SECS,
            connect_timeout=API_TIMEOUT_SECS,
        )
        self.bot = Bot(
            token,
            base_url=api_url,
            base_file_url=file_url(api_url),
            request=request,
            get_updates_request=polling,
        )
        self.username = ""
        self.handler: UpdateHandler | None = None
        self._order = asyncio.Lock()  # webhook deliveries are handled one at a time
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    @classmethod
    def from_config(cls, config: BridgeConfig) -> TelegramPlatform:
        config.require("telegram_bot_token", "telegram_chat")
        chats = {"TELEGRAM_CHAT": config.telegram_chat}
        chats.update({f"TELEGRAM_CHAT_MAP[{d}]": c for d, c in config.telegram_chat_map.items()})
        for where, chat in chats.items():
            if not re.fullmatch(r"-?\d+", chat.strip()):
                raise ConfigError(f"{where}: Telegram chat ids are numbers, e.g. -1001234567890")
        if config.telegram_webhook_url:
            config.require("telegram_webhook_secret")
            if not SECRET_PATTERN.fullmatch(config.telegram_webhook_secret):
                raise ConfigError(
                    "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
                )
            if not config.telegram_webhook_url.startswith("https://") and not (
                config.telegram_webhook_url.startswith("http://127.0.0.1")
                or config.telegram_webhook_url.startswith("http://localhost")
            ):
                raise ConfigError("TELEGRAM_WEBHOOK_URL must be an https:// URL")
        return cls(
            token=config.telegram_bot_token,
            api_url=config.telegram_api_url,
            chat=config.telegram_chat.strip(),
            chat_map={k: v.strip() for k, v in config.telegram_chat_map.items()},
            webhook_url=config.telegram_webhook_url,
            webhook_secret=config.telegram_webhook_secret,
        )

    # -- texts and syntax ---------------------------------------------------------------
    @property
    def link_help(self) -> str:  # type: ignore[override]
        bot = f"@{self.username}" if self.username else "this bot"
        return (
            "You are not linked to a Steadydesk agent yet, so you can read this topic but not "
            f"answer in it. Get a link code in the agent console (F2), open a private chat with "
            f"{bot}, press Start and send: /link CODE"
        )

    def read_request(self, text: str) -> Asked | None:
        return read_reply(self.own_command(text), prefix="/", strict=True)

    def own_command(self, text: str) -> str:
        """``/claim@ThisBot`` as ``/claim`` (groups address commands to one bot)."""
        stripped = text.strip()
        if not stripped.startswith("/"):
            return text
        word, space, rest = stripped.partition(" ")
        command, _, bot = word.partition("@")
        if bot and self.username and bot.casefold() == self.username.casefold():
            return command + space + rest
        return text

    def for_another_bot(self, text: str) -> bool:
        word = text.strip().partition(" ")[0]
        command, at, bot = word.partition("@")
        return (
            command.startswith("/")
            and bool(at)
            and bool(self.username)
            and bot.casefold() != self.username.casefold()
        )

    def intro(self, conversation: Conversation) -> str | None:
        return render.intro(conversation)

    def channel_for(self, department: str | None) -> str:
        return self.chat_map.get(department or "", self.chat)

    # -- deliveries -------------------------------------------------------------------
    def http_routes(self) -> list[tuple[str, list[str], HttpHandler]]:
        return [(WEBHOOK_PATH, ["POST"], self._webhook)]

    async def _webhook(self, request: Request) -> HTTPResponse:
        if not self.webhook_url:
            return json_response({"error": "long polling: no webhook here"}, status=404)
        # Verified before anything else (BRIDGES §3), in constant time.
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.webhook_secret.encode()):
            return json_response({"error": "bad secret token"}, status=401)
        try:
            data = orjson.loads(request.body)
            update = Update.de_json(data, self.bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring a webhook body that is not an update: %s", exc)
            return json_response({"error": "not an update"}, status=400)
        if update is None or self.handler is None:
            return json_response({"error": "not an update"}, status=400)
        try:
            async with self._order:
                await self.handler.handle(update)
        except Exception:
            # Telegram delivers it again later; what was done is keyed and not doubled.
            log.exception("could not handle update %s", update.update_id)
            return json_response({"error": "try again"}, status=500)
        return json_response({})

    async def start(self, bridge: Bridge) -> None:
        self.handler = UpdateHandler(bridge, self)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._connect()))

    async def _connect(self) -> None:
        """Tell Telegram where updates go (retrying while it is down), then poll if asked."""
        delay = POLL_RETRY_SECS[0]
        while not self._stopping:
            try:
                if not self.username:  # commands name the bot: /claim@ThisBot
                    await self.check()
                if self.webhook_url:
                    await self._call(
                        lambda: self.bot.set_webhook(
                            self.webhook_url,
                            secret_token=self.webhook_secret,
                            allowed_updates=list(ALLOWED_UPDATES),
                            max_connections=WEBHOOK_MAX_CONNECTIONS,
                        )
                    )
                    log.info("Telegram delivers updates to %s", self.webhook_url)
                    return
                # getUpdates answers 409 while a webhook is set: remove it, keep what waits.
                await self._call(lambda: self.bot.delete_webhook(drop_pending_updates=False))
                break
            except PlatformError as exc:
                log.warning("cannot reach Telegram to set up updates (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(POLL_RETRY_SECS[1], delay * 2)
        await self._poll()

    async def _poll(self) -> None:
        """Long polling: each batch is handled in order before the next ``getUpdates``
        confirms it with ``offset``; a failed update is fetched again, not skipped."""
        offset: int | None = None
        delay = POLL_RETRY_SECS[0]
        while not self._stopping:
            try:
                updates = await self._call(
                    functools.partial(
                        self.bot.get_updates,
                        offset=offset,
                        timeout=POLL_TIMEOUT_SECS,
                        allowed_updates=list(ALLOWED_UPDATES),
                    )
                )
            except RateLimited as exc:
                await asyncio.sleep(exc.retry_after)
                continue
            except PlatformError as exc:
                log.warning("getUpdates failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(POLL_RETRY_SECS[1], delay * 2)
                continue
            delay = POLL_RETRY_SECS[0]
            assert self.handler is not None
            for update in updates:
                try:
                    await self.handler.handle(update)
                except Exception:
                    log.exception("could not handle update %s; trying it again", update.update_id)
                    await asyncio.sleep(delay)
                    break
                offset = max(offset or 0, update.update_id + 1)  # never back: it confirms

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.bot.shutdown()

    # -- Bot API ----------------------------------------------------------------------
    async def _call(self, call: Callable[[], Awaitable[T]], channel: str = "") -> T:
        """One Bot API call, its failures in the core's terms."""
        try:
            return await call()
        except RetryAfter as exc:
            raise RateLimited(_seconds(exc.retry_after), channel) from exc
        except ChatMigrated as exc:
            raise PlatformRefused(
                f"the group became a supergroup: set TELEGRAM_CHAT to {exc.new_chat_id}"
            ) from exc
        except BadRequest as exc:  # a NetworkError subclass in PTB, but an answer: 400
            raise PlatformRefused(exc.message) from exc
        except NetworkError as exc:  # 5xx, timeouts, connection refused (TimedOut too)
            raise PlatformUnavailable(f"Telegram unavailable: {exc.message}") from exc
        except TelegramError as exc:  # 400, 401/404 (token), 403, 409
            raise PlatformRefused(exc.message) from exc

    async def check(self) -> None:
        me = await self._call(self.bot.get_me)
        self.username = me.username or ""

    async def _send(self, thread: ThreadRef, text: str, *, reply_to: int | None = None) -> str:
        message = await self._call(
            lambda: self.bot.send_message(
                int(thread.channel),
                text,
                parse_mode=render.PARSE_MODE,
                message_thread_id=int(thread.root),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_parameters=(
                    ReplyParameters(reply_to, allow_sending_without_reply=True)
                    if reply_to
                    else None
                ),
            ),
            thread.channel,
        )
        return str(message.message_id)

    async def open_thread(self, start: ThreadStart, ref: str) -> ThreadRef:
        name = render.topic_name(Conversation(start.conv, start.visitor, start.department))
        topic = await self._call(
            lambda: self.bot.create_forum_topic(int(start.channel), name), start.channel
        )
        return ThreadRef(start.channel, str(topic.message_thread_id))

    async def find_thread(self, conv: str, channel: str) -> ThreadRef | None:
        return None  # the Bot API cannot list a group's topics

    async def post(self, thread: ThreadRef, item: Item, ref: str) -> str:
        return await self._send(thread, render.item(item))

    async def post_notice(self, thread: ThreadRef, conv: str, text: str, ref: str) -> str:
        return await self._send(thread, render.notice(text))

    def incoming_files(self, message: Message) -> list[IncomingFile]:
        """A photo (its largest size) or a document a person posted, fetched with
        ``getFile`` and the file URL when the reply is sent on."""
        if message.document is not None:
            name = message.document.file_name or f"file-{message.message_id}"
            file_id = message.document.file_id
        elif message.photo:
            name, file_id = f"photo-{message.message_id}.jpg", message.photo[-1].file_id
        else:
            return []
        return [IncomingFile(name, functools.partial(self._download, file_id))]

    async def _download(self, file_id: str) -> bytes:
        file = await self._call(functools.partial(self.bot.get_file, file_id))
        return bytes(await self._call(file.download_as_bytearray))

    async def post_files(
        self, thread: ThreadRef, item: Item, files: list[tuple[FileRef, bytes]]
    ) -> None:
        """Each file into the topic: ``sendPhoto`` for an image Telegram can show (it
        recompresses it), ``sendDocument`` for anything else. No caption: the item's post
        right after names the files, escaped once, there."""
        chat, topic = int(thread.channel), int(thread.root)
        for file, data in files:
            upload = InputFile(data, filename=file.name or "file")
            photo = file.type in PHOTO_TYPES and len(data) <= PHOTO_MAX_BYTES
            send = self.bot.send_photo if photo else self.bot.send_document
            await self._call(
                functools.partial(send, chat, upload, message_thread_id=topic), thread.channel
            )

    async def find(self, thread: ThreadRef, conv: str, ref: str) -> str | None:
        return None  # the Bot API cannot read a chat's history

    async def _topic(self, thread: ThreadRef, close: bool) -> None:
        method = self.bot.close_forum_topic if close else self.bot.reopen_forum_topic
        try:
            await self._call(lambda: method(int(thread.channel), int(thread.root)), thread.channel)
        except PlatformRefused as exc:
            if UNCHANGED not in str(exc):  # already closed (open): done before a crash
                raise

    async def close_thread(self, thread: ThreadRef, conv: str, by: str, ref: str) -> str:
        # Closed first: closing again is harmless, so a retry doubles nothing.
        await self._topic(thread, close=True)
        return await self.post_notice(thread, conv, f"Conversation closed by {by}.", ref)

    async def reopen_thread(self, thread: ThreadRef, conv: str, ref: str) -> str:
        await self._topic(thread, close=False)
        return await self.post_notice(
            thread, conv, "The visitor wrote again: a new conversation goes on here.", ref
        )

    async def post_pointer(self, old: ThreadRef, new: ThreadRef, conv: str, ref: str) -> str:
        return await self._send(old, render.pointer(new.channel, new.root))

    async def tell(self, user: ChatUser, text: str) -> None:
        """A reply to the user's message: in its topic, or in the private chat."""
        chat, topic = user.reply_to.get("chat_id"), user.reply_to.get("message_thread_id")
        message = user.reply_to.get("message_id")
        if not isinstance(chat, int):
            return
        await self._call(
            lambda: self.bot.send_message(
                chat,
                render.answer(text),
                parse_mode=render.PARSE_MODE,
                message_thread_id=topic if isinstance(topic, int) else None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_parameters=(
                    ReplyParameters(message, allow_sending_without_reply=True)
                    if isinstance(message, int)
                    else None
                ),
            ),
            str(chat),
        )
