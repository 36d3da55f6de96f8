"""What a chat-app adapter provides to the core, and the errors it may raise.

Adapters are thin: they turn the neutral vocabulary into the platform's API calls and
back, and escape visitor text for the platform in one place. Everything about ordering,
retries, durability and deduplication lives in the core.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bots.core.commands import Request, read_reply
from bots.core.model import ChatUser, Conversation, FileRef, Item, ThreadRef, Visitor

if TYPE_CHECKING:
    from bots.core.bridge import Bridge


class PlatformError(Exception):
    """A platform call failed."""


class RateLimited(PlatformError):
    """429: nothing was posted; wait ``retry_after`` seconds before posting to ``channel``."""

    def __init__(self, retry_after: float, channel: str = "") -> None:
        super().__init__(f"rate limited for {retry_after:.1f}s")
        self.retry_after = retry_after
        self.channel = channel


class PlatformUnavailable(PlatformError):
    """The platform is down or did not answer (5xx, timeout, connection refused); whether
    the call took effect is unknown. Counts toward the platform's circuit breaker."""


class PlatformRefused(PlatformError):
    """The platform answered no to this request (bad channel, missing scope): nothing was
    posted, and trying again unchanged will not help until someone fixes the setup."""


@dataclass(frozen=True, slots=True)
class ThreadStart:
    conv: str
    visitor: Visitor
    department: str | None
    channel: str
    first: Item | None  # the first visitor message, shown in the root
    previous: ThreadRef | None = None  # the thread a transfer moved the conversation from


HttpHandler = Callable[..., Coroutine[Any, Any, Any]]


class Platform(abc.ABC):
    kind: str
    # What the core tells chat-app users, worded for each app (its commands differ).
    link_help: str = "You are not linked to a Steadydesk agent yet: ask an admin how to link."
    link_usage: str = "Usage: link CODE (get the code in the agent console)"
    usage: str = "Write in the thread to answer the visitor."
    # A visitor's follow-up conversation (``previous`` names the closed one) goes on in the
    # closed one's thread, reopened, instead of a new thread (a Telegram topic per visitor).
    continues_previous: bool = False
    # The root shows the visitor's first message (``ThreadStart.first``), which is then
    # not posted again in the thread. False where a new thread shows none (a Telegram
    # topic has only a name): the message is posted in the thread like any other.
    root_shows_first: bool = True

    def read_request(self, text: str) -> Request | None:
        """What a thread reply asks for, in this app's command syntax."""
        return read_reply(text)

    def intro(self, conversation: Conversation) -> str | None:
        """A first post about the visitor, for apps whose new thread does not show one
        (a Telegram topic has only a name); posted as a notice right after the thread opens.
        None when the thread's root already introduces the visitor (Slack)."""
        return None

    @abc.abstractmethod
    def channel_for(self, department: str | None) -> str:
        """Where a conversation of this department gets its thread."""

    def http_routes(self) -> list[tuple[str, list[str], HttpHandler]]:
        """(path, methods, handler) for the bridge's HTTP endpoint; handlers take Sanic's
        request and return a Sanic response."""
        return []

    async def start(self, bridge: Bridge) -> None:  # noqa: B027 - optional hook
        """Connect inbound delivery (Socket Mode, long polling) once the core is ready."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop inbound delivery."""

    @abc.abstractmethod
    async def check(self) -> None:
        """Raise PlatformError unless the platform answers with our credentials."""

    @abc.abstractmethod
    async def open_thread(self, start: ThreadStart, ref: str) -> ThreadRef: ...

    @abc.abstractmethod
    async def find_thread(self, conv: str, channel: str) -> ThreadRef | None:
        """The thread opened for ``conv`` in ``channel``, found on the platform, if any."""

    @abc.abstractmethod
    async def post(self, thread: ThreadRef, item: Item, ref: str) -> str:
        """Post one item; returns the platform's id of the post."""

    async def post_files(  # noqa: B027 - optional hook
        self, thread: ThreadRef, item: Item, files: list[tuple[FileRef, bytes]]
    ) -> None:
        """Upload an item's files into the thread, before the item's own post (which names
        them, and marks the item done). Apps without uploads leave the names alone."""

    @abc.abstractmethod
    async def post_notice(self, thread: ThreadRef, conv: str, text: str, ref: str) -> str: ...

    @abc.abstractmethod
    async def find(self, thread: ThreadRef, conv: str, ref: str) -> str | None:
        """The id of the post made with ``ref``, if the platform has it (None when the
        platform cannot tell: then the core posts again)."""

    async def close_thread(self, thread: ThreadRef, conv: str, by: str, ref: str) -> str:
        """``by`` is empty when nobody is known (closed while the bridge was away)."""
        text = f"Conversation closed by {by}." if by else "Conversation closed."
        return await self.post_notice(thread, conv, text, ref)

    async def reopen_thread(self, thread: ThreadRef, conv: str, ref: str) -> str:
        return await self.post_notice(thread, conv, "Conversation reopened.", ref)

    @abc.abstractmethod
    async def post_pointer(self, old: ThreadRef, new: ThreadRef, conv: str, ref: str) -> str:
        """The notice left in the old thread when a transfer moves it to ``new``."""

    @abc.abstractmethod
    async def tell(self, user: ChatUser, text: str) -> None:
        """A private answer to one chat-app user (Slack: ephemeral)."""

    async def thread_link(self, thread: ThreadRef) -> str:
        """A link to a thread that a private answer can show as is ("" when there is none)."""
        return ""

    def mention_of(self, name: str, author: ChatUser) -> tuple[str, str] | None:
        """A transfer target written as the app's own mention: ("user", external user id),
        or ("name", the name it stands for); None for a plain name."""
        return None
