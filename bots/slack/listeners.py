"""Slack deliveries, by surface (as Bolt's starter does): thread messages, edits, the
buttons on a root message (Transfer opens a picker: ``views.open``, then its
``view_submission``), the "Add as note" shortcut and ``/steady``.

Every listener skips a delivery it has handled before (``event_id`` for events; the
action's or message's own timestamp for interactivity) and hands the core a neutral
request; the core stores it before Bolt answers Slack (``process_before_response``), and
only then is the delivery marked handled: a crash in between lets Slack's retry through,
and what it stores is keyed by the Slack message, so it happens once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bots.core.commands import Intent, Request
from bots.core.model import ChatUser, ThreadRef
from bots.core.platform import PlatformError
from bots.slack import render

if TYPE_CHECKING:
    from bots.core.bridge import Bridge
    from bots.slack.adapter import SlackPlatform

log = logging.getLogger(__name__)

HELP = (
    "Steadydesk in Slack: each conversation is a thread in this channel. Reply in the thread "
    "to answer the visitor; start with `note:` for a private note; `!claim`, `!close`, "
    "`!transfer <agent or department name>` in the thread (`@name` for an agent, `#name` for "
    "a department when both have it); the buttons on the first message do the same. Link "
    "yourself once with /steady link CODE (the code comes from the agent console)."
)
NO_PICKER = "The transfer list cannot be shown right now; write !transfer <name> in the thread."
BUTTONS = {"steady_claim": Intent.CLAIM, "steady_close": Intent.CLOSE}


def _user(team: str, user: str, channel: str, thread_ts: str | None = None) -> ChatUser:
    reply_to: dict[str, Any] = {"channel": channel, "user": user}
    if thread_ts:
        reply_to["thread_ts"] = thread_ts
    return ChatUser(f"{team}:{user}", reply_to=reply_to)


def register(app: AsyncApp, bridge: Bridge, slack: SlackPlatform) -> None:
    @app.event("message")
    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        event_id = str(body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}")
        subtype = event.get("subtype")
        if subtype in ("message_changed", "message_deleted"):
            await _edited(bridge, body, event, event_id)
            return
        if subtype not in (None, "thread_broadcast", "file_share") or event.get("bot_id"):
            return  # our own posts (and other bots') never loop back
        thread_ts, ts, user = event.get("thread_ts"), event.get("ts"), event.get("user")
        if not thread_ts or thread_ts == ts or not user:
            return  # not a reply in a thread
        if (event.get("metadata") or {}).get("event_type") in (
            render.POST_EVENT,
            render.THREAD_EVENT,
        ):
            return
        if await bridge.delivered_before(event_id):
            return
        channel = str(event.get("channel"))
        team = str(event.get("team") or body.get("team_id") or "")
        await bridge.reply(
            ThreadRef(channel, str(thread_ts)),
            _user(team, str(user), channel, str(thread_ts)),
            str(event.get("text") or ""),
            f"{channel}:{ts}",
            slack.incoming_files(event.get("files")),
        )
        await bridge.delivered(event_id)

    @app.action("steady_claim")
    @app.action("steady_close")
    @app.action("steady_transfer")
    async def on_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = body.get("user") or {}
        channel = str((body.get("channel") or {}).get("id") or "")
        root = str((body.get("message") or {}).get("ts") or "")
        team = str(user.get("team_id") or (body.get("team") or {}).get("id") or "")
        chat_user = _user(team, str(user.get("id") or ""), channel, root or None)
        action_id = str(action.get("action_id"))
        conv = str(action.get("value") or "")
        key = f"action:{action.get('action_ts')}:{chat_user.external}:{action_id}"
        if not conv or await bridge.delivered_before(key):
            return
        if action_id == "steady_transfer":
            await _open_picker(bridge, slack, chat_user, conv, ThreadRef(channel, root), body)
        else:
            await bridge.act(conv, chat_user, Request(BUTTONS[action_id]), key)
        await bridge.delivered(key)

    @app.view(render.PICKER_CALLBACK)
    async def on_transfer_picked(ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body.get("view") or {}
        chosen = render.picked(view)
        if chosen is None:
            await ack(response_action="errors", errors={render.PICKER_BLOCK: "Pick one."})
            return
        await ack()  # closes the modal; the thread shows the transfer
        meta, target = chosen
        user = body.get("user") or {}
        team = str(user.get("team_id") or (body.get("team") or {}).get("id") or "")
        chat_user = _user(team, str(user.get("id") or ""), meta["channel"], meta["root"])
        key = f"view:{view.get('id')}"  # one modal, one submission
        if await bridge.delivered_before(key):
            return
        request = Request(Intent.TRANSFER, target.name, target)
        await bridge.act(meta["conv"], chat_user, request, key)
        await bridge.delivered(key)

    @app.shortcut("steady_add_note")
    async def on_add_note(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        message = body.get("message") or {}
        user = body.get("user") or {}
        channel = str((body.get("channel") or {}).get("id") or "")
        team = str(user.get("team_id") or (body.get("team") or {}).get("id") or "")
        thread_ts = str(message.get("thread_ts") or message.get("ts") or "")
        chat_user = _user(team, str(user.get("id") or ""), channel, thread_ts)
        conv = await bridge.conversation_at(ThreadRef(channel, thread_ts))
        if conv is None:
            await bridge._tell(chat_user, "That message is not in a Steadydesk conversation.")
            return
        text = str(message.get("text") or "").strip()
        if not text:
            return
        # Keyed by the message: adding the same message twice makes one note.
        key = f"note:{channel}:{message.get('ts')}"
        await bridge.act(conv, chat_user, Request(Intent.NOTE, text), key)

    @app.command("/steady")
    async def on_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        words = str(body.get("text") or "").split()
        channel = str(body.get("channel_id") or "")
        chat_user = _user(str(body.get("team_id") or ""), str(body.get("user_id") or ""), channel)
        if len(words) == 2 and words[0].casefold() == "link":
            await ack(text=await bridge.link(chat_user, words[1]))
        else:
            await ack(text=HELP)


async def _open_picker(
    bridge: Bridge,
    slack: SlackPlatform,
    user: ChatUser,
    conv: str,
    thread: ThreadRef,
    body: dict[str, Any],
) -> None:
    """The Transfer button: a modal listing departments and agents with presence. Slack's
    trigger_id lives 3 seconds, so this is done before the delivery is answered."""
    choices = await bridge.transfer_choices(user)
    if choices is None:
        return
    departments, agents = choices
    if not departments and not agents:
        await bridge._tell(user, "There is nobody to transfer to.")
        return
    view = render.transfer_picker(conv, thread, departments, agents)
    try:
        await slack.open_view(str(body.get("trigger_id") or ""), view)
    except PlatformError as exc:
        log.warning("views.open failed: %s", exc)
        await bridge._tell(user, NO_PICKER)


async def _edited(
    bridge: Bridge, body: dict[str, Any], event: dict[str, Any], event_id: str
) -> None:
    if event.get("subtype") == "message_changed":
        message = event.get("message") or {}
        if not message.get("edited"):
            return  # Slack changed it (a link preview), not its author
    else:  # message_deleted
        message = event.get("previous_message") or {}
    thread_ts, user, ts = message.get("thread_ts"), message.get("user"), message.get("ts")
    if not user or message.get("bot_id") or not thread_ts or thread_ts == ts:
        return
    channel = str(event.get("channel"))
    if await bridge.conversation_at(ThreadRef(channel, str(thread_ts))) is None:
        return
    if await bridge.delivered_before(event_id):
        return
    team = str(message.get("team") or body.get("team_id") or "")
    await bridge.edited(_user(team, str(user), channel, str(thread_ts)), f"{channel}:{ts}")
    await bridge.delivered(event_id)
