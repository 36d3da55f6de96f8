"""What the Telegram bridge does with each update (webhook or long polling alike).

* A message in a conversation's topic, from a person: a reply, a note or a command for the
  core (``/claim``, ``/close``, ``/transfer <name>``, ``/note <text>``, ``note: <text>``);
  commands addressed to another bot (``/claim@OtherBot``) are left alone.
* A message in a private chat with the bot: ``/link CODE`` (or ``/start CODE``, the
  deep link ``t.me/<bot>?start=CODE``) links the user; anything else is told how.
* An edited message whose original reached Steadydesk: the author is told it was not
  passed on (the Bot API does not report deletions).

An ``update_id`` already handled is dropped; it is remembered only after the update has
been handled, so a crash in between makes Telegram deliver it again rather than lose it,
and what it led to is keyed by ``cid`` (``telegram:<chat>:<message id>``) and happens once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import Message, Update

from bots.core.model import ChatUser, ThreadRef

if TYPE_CHECKING:
    from bots.core.bridge import Bridge
    from bots.telegram.adapter import TelegramPlatform

PRIVATE_HELP = (
    "Hello! I bring Steadydesk conversations into your team's group, a topic each. To "
    "answer visitors there, link your Telegram account to your agent once: get a link code "
    "in the agent console (F2) and send it here as /link CODE."
)
ONLY_TEXT = "Only text, photos and files reach the visitor: this message was not passed on."


def _message_key(message: Message) -> str:
    return f"{message.chat.id}:{message.message_id}"


def _user(message: Message) -> ChatUser | None:
    person = message.from_user
    if person is None or person.is_bot:
        return None  # our own posts are never delivered to us; other bots' are ignored
    reply_to: dict[str, int] = {"chat_id": message.chat.id, "message_id": message.message_id}
    if message.is_topic_message and message.message_thread_id:
        reply_to["message_thread_id"] = message.message_thread_id
    return ChatUser(str(person.id), person.full_name, dict(reply_to))


class UpdateHandler:
    def __init__(self, bridge: Bridge, telegram: TelegramPlatform) -> None:
        self.bridge = bridge
        self.telegram = telegram

    async def handle(self, update: Update) -> None:
        key = f"telegram:update:{update.update_id}"
        if await self.bridge.delivered_before(key):
            return
        if update.message is not None:
            if update.message.chat.type == "private":
                await self._private(update.message)
            else:
                await self._in_topic(update.message)
        elif update.edited_message is not None:
            await self._edited(update.edited_message)
        await self.bridge.delivered(key)

    async def _thread(self, message: Message) -> ThreadRef | None:
        """The conversation topic this group message was written in, if it is one."""
        if not message.is_topic_message or not message.message_thread_id:
            return None  # the General topic, or a reply chain outside topics
        thread = ThreadRef(str(message.chat.id), str(message.message_thread_id))
        return thread if await self.bridge.conversation_at(thread) is not None else None

    async def _in_topic(self, message: Message) -> None:
        user = _user(message)
        thread = await self._thread(message)
        if user is None or thread is None:
            return
        files = self.telegram.incoming_files(message)  # a photo or a document
        text = message.text if message.text is not None else message.caption
        if text is None and not files:
            if message.effective_attachment is not None:
                await self.bridge._tell(user, ONLY_TEXT)
            return  # service messages (topic closed, member joined) say nothing to us
        if text and self.telegram.for_another_bot(text):
            return
        await self.bridge.reply(thread, user, text or "", _message_key(message), files)

    async def _private(self, message: Message) -> None:
        user = _user(message)
        if user is None:
            return
        words = self.telegram.own_command(message.text or "").split()
        command = words[0].casefold() if words else ""
        if command == "/link" or (command == "/start" and len(words) > 1):
            code = " ".join(words[1:])
            answer = await self.bridge.link(user, code) if code else self.telegram.link_usage
        else:
            answer = PRIVATE_HELP
        await self.bridge._tell(user, answer)

    async def _edited(self, message: Message) -> None:
        user = _user(message)
        if user is None or await self._thread(message) is None:
            return
        await self.bridge.edited(user, _message_key(message))
