"""Everything the Slack bridge writes, built in one place: visitor text is escaped here
and nowhere else (Slack's ``&``, ``<``, ``>`` control characters, so ``<!channel>`` or
``<@U…>`` from a visitor is shown, never acted on; ``mrkdwn`` off for the same reason)."""

from __future__ import annotations

from typing import Any

from bots.core.model import AuthorKind, Item, ItemKind, ThreadRef
from bots.core.platform import ThreadStart

TEXT_MAX_CHARS = 39_000  # Slack truncates past 40,000
PLAIN_TEXT_MAX_CHARS = 2_900  # a section's text may hold 3,000
INFO = "\N{INFORMATION SOURCE}\ufe0f"
THREAD_EVENT = "steadydesk_thread"
POST_EVENT = "steadydesk_post"


def escape(text: str) -> str:
    """Slack's escaping for text it would otherwise parse for mentions and links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str) -> dict[str, Any]:
    # plain_text is never parsed for markup or mentions by Slack.
    return {"type": "plain_text", "text": _cut(text or " ", PLAIN_TEXT_MAX_CHARS), "emoji": False}


def metadata(event_type: str, conv: str, ref: str) -> dict[str, Any]:
    """Carried by every post: finds it again after a crash (conversations.replies)."""
    return {"event_type": event_type, "event_payload": {"conv": conv, "ref": ref}}


def root_message(start: ThreadStart, ref: str) -> dict[str, Any]:
    visitor = start.visitor
    name = visitor.name or "Visitor"
    details = [f"Page: {visitor.page_url or 'unknown'}", f"Language: {visitor.language or '?'}"]
    if visitor.email:
        details.append(f"E-mail: {visitor.email}")
    first = start.first.body if start.first is not None else ""
    summary = f"New conversation with {name}"
    text = f"{summary}: {first}" if first else summary
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(_cut(summary, 150))},
        {"type": "context", "elements": [_plain(line) for line in details]},
    ]
    if first:
        blocks.append({"type": "section", "text": _plain(first)})
    blocks.append(
        {
            "type": "actions",
            "block_id": f"steady_actions:{start.conv}"[:255],
            "elements": [
                _button("steady_claim", "Claim", start.conv, style="primary"),
                _button("steady_transfer", "Transfer", start.conv),
                _button("steady_close", "Close", start.conv, style="danger"),
            ],
        }
    )
    return {
        "channel": start.channel,
        "text": _cut(escape(text), TEXT_MAX_CHARS),
        "blocks": blocks,
        "mrkdwn": False,
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": metadata(THREAD_EVENT, start.conv, ref),
    }


def _button(action_id: str, label: str, conv: str, *, style: str = "") -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "value": conv,
        "text": _plain(label),
    }
    if style:
        button["style"] = style
    return button


def item_text(item: Item) -> str:
    """The thread line for one item (before escaping)."""
    if item.kind is ItemKind.NOTE:
        who = f" ({item.author.name})" if item.author.name else ""
        return f"📝 note{who}: {item.body}"
    if item.author.kind == AuthorKind.AGENT:
        return f"{item.author.name or 'Agent'}: {item.body}"
    if item.kind is ItemKind.SYSTEM:
        return f"{INFO} {item.body}"
    return item.body


def thread_post(thread: ThreadRef, item: Item, ref: str) -> dict[str, Any]:
    post = _in_thread(thread, item_text(item), metadata(POST_EVENT, item.conv, ref))
    if item.author.kind == AuthorKind.VISITOR:
        post["username"] = _cut(f"{item.author.name or 'Visitor'} (visitor)", 80)
    return post


def notice(thread: ThreadRef, conv: str, text: str, ref: str) -> dict[str, Any]:
    return _in_thread(thread, f"{INFO} {text}", metadata(POST_EVENT, conv, ref))


def _in_thread(thread: ThreadRef, text: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "channel": thread.channel,
        "thread_ts": thread.root,
        "text": _cut(escape(text), TEXT_MAX_CHARS),
        "mrkdwn": False,
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": meta,
    }


def pointer(old: ThreadRef, new: ThreadRef, conv: str, ref: str) -> dict[str, Any]:
    # Our own text, not the visitor's: the channel mention is meant to link.
    channel = escape(new.channel)
    post = _in_thread(old, "", metadata(POST_EVENT, conv, ref))
    post["text"] = f"{INFO} Transferred: this conversation continues in <#{channel}>."
    return post
