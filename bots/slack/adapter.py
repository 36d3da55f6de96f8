"""The Slack :class:`~bots.core.platform.Platform`: Web API calls through slack_sdk's
``AsyncWebClient`` (base URL ``SLACK_API_URL``), deliveries through slack-bolt."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sanic import HTTPResponse, Request
from sanic.response import json as json_response
from slack_bolt.adapter.sanic import AsyncSlackRequestHandler
from slack_bolt.adapter.socket_mode.websockets import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bots.core.config import BridgeConfig
from bots.core.model import ChatUser, FileRef, IncomingFile, Item, ThreadRef
from bots.core.platform import (
    HttpHandler,
    Platform,
    PlatformRefused,
    PlatformUnavailable,
    RateLimited,
    ThreadStart,
)
from bots.slack import render
from bots.slack.listeners import register

log = logging.getLogger(__name__)

API_TIMEOUT_SECS = 10
HISTORY_PAGES = 5
REPLIES_PAGE = 200
EVENTS_PATH = "/slack/events"
_RATE_LIMIT_ERRORS = frozenset({"ratelimited", "rate_limited"})
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL_MENTION = re.compile(r"<#[CG][A-Z0-9]+\|([^>]+)>")


class SlackPlatform(Platform):
    kind = "slack"
    link_help = (
        "You are not linked to a Steadydesk agent yet, so you can read this thread but not "
        "answer in it. Get a link code in the agent console (or POST /api/v1/me/link-code) and "
        "send it here: /steady link CODE"
    )
    link_usage = "Usage: /steady link CODE (get the code in the agent console)"
    usage = (
        "Usage: !claim, !close, !transfer <agent or department name>, note: <text>, or just "
        "write to the visitor."
    )

    def __init__(
        self,
        *,
        bot_token: str,
        signing_secret: str,
        api_url: str,
        channel: str,
        channel_map: dict[str, str],
        app_token: str = "",
    ) -> None:
        self.channel = channel
        self.channel_map = channel_map
        self.app_token = app_token
        self.verifier = SignatureVerifier(signing_secret)
        self.web = AsyncWebClient(
            token=bot_token, base_url=api_url, timeout=API_TIMEOUT_SECS, retry_handlers=[]
        )
        self.app = AsyncApp(
            client=self.web,
            signing_secret=signing_secret,
            process_before_response=True,  # store before Slack gets its 200
            raise_error_for_unhandled_request=False,
        )
        self._http = AsyncSlackRequestHandler(self.app)
        self._api_host = urlsplit(api_url).hostname or ""
        self._socket: AsyncSocketModeHandler | None = None
        self.bot_user_id = ""

    @classmethod
    def from_config(cls, config: BridgeConfig) -> SlackPlatform:
        config.require("slack_bot_token", "slack_channel")
        if not config.slack_app_token:
            config.require("slack_signing_secret")
        api_url = (
            config.slack_api_url
            if config.slack_api_url.endswith("/")
            else (config.slack_api_url + "/")
        )
        return cls(
            bot_token=config.slack_bot_token,
            signing_secret=config.slack_signing_secret or "socket-mode",
            api_url=api_url,
            channel=config.slack_channel,
            channel_map=dict(config.slack_channel_map),
            app_token=config.slack_app_token,
        )

    def channel_for(self, department: str | None) -> str:
        return self.channel_map.get(department or "", self.channel)

    # -- deliveries -------------------------------------------------------------------
    def http_routes(self) -> list[tuple[str, list[str], HttpHandler]]:
        return [(EVENTS_PATH, ["POST"], self._events)]

    async def _events(self, request: Request) -> HTTPResponse:
        # Verified before anything else (BRIDGES §3): a bad or stale signature changes nothing.
        if not self.verifier.is_valid_request(request.body, dict(request.headers)):
            return json_response({"error": "invalid signature"}, status=401)
        response: HTTPResponse = await self._http.handle(request)
        return response

    async def start(self, bridge: Any) -> None:
        # One session for every Web API call: slack_sdk opens a new one (a new connection,
        # with real Slack a TLS handshake) per call otherwise. Made here, in the loop.
        self.web.session = aiohttp.ClientSession()
        register(self.app, bridge, self)
        if self.app_token:
            self._socket = AsyncSocketModeHandler(self.app, self.app_token, web_client=self.web)
            await self._socket.connect_async()

    async def stop(self) -> None:
        if self._socket is not None:
            try:
                await asyncio.wait_for(self._socket.close_async(), 5)
            except Exception:
                log.debug("socket mode close", exc_info=True)
            self._socket = None
        session, self.web.session = self.web.session, None
        if session is not None:
            await session.close()

    # -- Web API ----------------------------------------------------------------------
    async def _call(self, call: Callable[[], Awaitable[Any]], channel: str = "") -> Any:
        try:
            return await call()
        except SlackApiError as exc:
            response = exc.response
            status = response.status_code
            data = response.data
            error = str(data.get("error", "")) if isinstance(data, dict) else ""
            if status == 429 or error in _RATE_LIMIT_ERRORS:
                retry = response.headers.get("Retry-After", response.headers.get("retry-after"))
                try:
                    delay = max(0.0, float(retry)) if retry is not None else 1.0
                except ValueError:
                    delay = 1.0
                raise RateLimited(delay, channel) from exc
            if status >= 500:
                raise PlatformUnavailable(f"Slack answered {status}") from exc
            raise PlatformRefused(error or f"HTTP {status}") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PlatformUnavailable(f"Slack unreachable: {exc or type(exc).__name__}") from exc

    async def check(self) -> None:
        auth = await self._call(self.web.auth_test)
        self.bot_user_id = str(auth.get("user_id") or "")

    async def _post(self, message: dict[str, Any]) -> str:
        channel = str(message["channel"])
        response = await self._call(lambda: self.web.chat_postMessage(**message), channel)
        return str(response["ts"])

    async def open_thread(self, start: ThreadStart, ref: str) -> ThreadRef:
        previous = await self.thread_link(start.previous) if start.previous else ""
        root = await self._post(render.root_message(start, ref, previous))
        return ThreadRef(start.channel, root)

    async def post(self, thread: ThreadRef, item: Item, ref: str) -> str:
        return await self._post(render.thread_post(thread, item, ref))

    async def post_notice(self, thread: ThreadRef, conv: str, text: str, ref: str) -> str:
        return await self._post(render.notice(thread, conv, text, ref))

    def incoming_files(self, files: object) -> list[IncomingFile]:
        """The files of a ``file_share`` message, each fetched (when the reply is sent on)
        from its ``url_private_download`` with the bot token, as Slack requires."""
        out: list[IncomingFile] = []
        for file in files if isinstance(files, list) else []:
            url = file.get("url_private_download") if isinstance(file, dict) else None
            if isinstance(url, str) and self._slack_host(url):
                name = str(file.get("name") or file.get("title") or "file")
                out.append(IncomingFile(name, functools.partial(self._download, url)))
        return out

    def _slack_host(self, url: str) -> bool:
        """The bot token goes only to Slack's own hosts (or the configured API's)."""
        host = urlsplit(url).hostname or ""
        return url.startswith(("https://", "http://")) and (
            host == "slack.com" or host.endswith(".slack.com") or host == self._api_host
        )

    async def _download(self, url: str) -> bytes:
        headers = {"Authorization": f"Bearer {self.web.token}"}
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=60)) as resp,
            ):
                if resp.status != 200:
                    raise PlatformRefused(f"Slack answered {resp.status} for a file")
                return await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PlatformUnavailable(f"Slack unreachable: {exc or type(exc).__name__}") from exc

    async def post_files(
        self, thread: ThreadRef, item: Item, files: list[tuple[FileRef, bytes]]
    ) -> None:
        """Slack's external upload flow (``files.getUploadURLExternal``, the upload,
        ``files.completeUploadExternal``) through slack_sdk's ``files_upload_v2``, into the
        thread. Names are the visitor's: Slack shows a file name as text."""
        if not files:
            return
        uploads = [
            {"file": data, "filename": file.name or "file", "title": file.name or "file"}
            for file, data in files
        ]
        await self._call(
            lambda: self.web.files_upload_v2(
                file_uploads=uploads, channel=thread.channel, thread_ts=thread.root
            ),
            thread.channel,
        )

    async def post_pointer(self, old: ThreadRef, new: ThreadRef, conv: str, ref: str) -> str:
        return await self._post(render.pointer(old, new, conv, ref, await self.thread_link(new)))

    async def thread_link(self, thread: ThreadRef) -> str:
        """The root's permalink; "" when Slack will not give one (a post still goes out)."""
        try:
            answer = await self._call(
                lambda: self.web.chat_getPermalink(channel=thread.channel, message_ts=thread.root),
                thread.channel,
            )
        except PlatformRefused:
            return ""
        return str(answer.get("permalink") or "")

    def mention_of(self, name: str, author: ChatUser) -> tuple[str, str] | None:
        """What Slack makes of a typed ``@someone`` (``<@U123>``): that user of the author's
        workspace; of a typed ``#sales`` when such a channel exists (``<#C1|sales>``): the
        name ``#sales``, a department."""
        if user := _USER_MENTION.fullmatch(name.strip()):
            team = author.external.partition(":")[0]
            return "user", f"{team}:{user.group(1)}"
        if channel := _CHANNEL_MENTION.fullmatch(name.strip()):
            return "name", f"#{channel.group(1)}"
        return None

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        await self._call(lambda: self.web.views_open(trigger_id=trigger_id, view=view))

    async def find(self, thread: ThreadRef, conv: str, ref: str) -> str | None:
        cursor: str | None = None
        while True:
            page = await self._call(
                functools.partial(
                    self.web.conversations_replies,
                    channel=thread.channel,
                    ts=thread.root,
                    include_all_metadata=True,
                    limit=REPLIES_PAGE,
                    cursor=cursor,
                ),
                thread.channel,
            )
            for message in page.get("messages") or []:
                if _ours(message, render.POST_EVENT, conv, ref) or (
                    ref == "root" and _ours(message, render.THREAD_EVENT, conv, ref)
                ):
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None

    async def find_thread(self, conv: str, channel: str) -> ThreadRef | None:
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            page = await self._call(
                functools.partial(
                    self.web.conversations_history,
                    channel=channel,
                    include_all_metadata=True,
                    limit=REPLIES_PAGE,
                    cursor=cursor,
                ),
                channel,
            )
            for message in page.get("messages") or []:
                if _ours(message, render.THREAD_EVENT, conv, "root"):
                    return ThreadRef(channel, str(message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return None

    async def tell(self, user: ChatUser, text: str) -> None:
        reply_to = user.reply_to
        channel, slack_user = reply_to.get("channel"), reply_to.get("user")
        if not channel or not slack_user:
            return
        args: dict[str, Any] = {"channel": channel, "user": slack_user, "text": render.escape(text)}
        if reply_to.get("thread_ts"):
            args["thread_ts"] = reply_to["thread_ts"]
        await self._call(lambda: self.web.chat_postEphemeral(**args), str(channel))


def _ours(message: dict[str, Any], event_type: str, conv: str, ref: str) -> bool:
    meta = message.get("metadata")
    if not isinstance(meta, dict) or meta.get("event_type") != event_type:
        return False
    payload = meta.get("event_payload")
    return isinstance(payload, dict) and payload.get("conv") == conv and payload.get("ref") == ref
