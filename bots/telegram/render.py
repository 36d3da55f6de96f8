"""Everything the Telegram bridge writes, built in one place. Posts use HTML parse mode and
every piece of text that is not ours (visitor and agent names, bodies, page URLs, e-mails,
answers from the server) goes through :func:`escape` here and nowhere else, so ``<b>``,
``<a href>`` or a ``@mention``-looking entity from a visitor is shown, never acted on.
Topic names are never parsed by Telegram; they are only cut to its limit.
"""

from __future__ import annotations

import html

from bots.core.model import AuthorKind, Conversation, Item, ItemKind

PARSE_MODE = "HTML"
TEXT_MAX_UTF16 = 4096  # sendMessage: 1-4096 characters after entities parsing
TOPIC_NAME_MAX = 128  # createForumTopic: 1-128 characters
INFO = "\N{INFORMATION SOURCE}\ufe0f"
NOTE = "\N{MEMO} note:"
CUT_MARK = "… (cut here: the whole message is in Steadydesk)"


def escape(text: str) -> str:
    """Telegram's HTML mode needs ``<``, ``>`` and ``&`` escaped; quotes may stay."""
    return html.escape(text, quote=False)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, room: int) -> str:
    """``text`` cut to ``room`` UTF-16 units (Telegram counts those), with a mark."""
    if _utf16_len(text) <= room:
        return text
    keep = room - _utf16_len(CUT_MARK)
    cut = text.encode("utf-16-le")[: max(0, keep) * 2].decode("utf-16-le", errors="ignore")
    return cut + CUT_MARK


def _post(head_html: str, head_plain: str, body: str) -> str:
    """A bold (ours, safe) head, then the escaped body, within Telegram's length."""
    room = TEXT_MAX_UTF16 - _utf16_len(head_plain)
    return head_html + escape(_fit(body, room))


def topic_name(conversation: Conversation) -> str:
    name = " ".join(conversation.visitor.name.split())  # no newlines in a topic name
    if not name:
        name = f"Visitor {conversation.id[-6:]}"
    return name if len(name) <= TOPIC_NAME_MAX else name[: TOPIC_NAME_MAX - 1] + "…"


def intro(conversation: Conversation) -> str:
    """The first post of a topic (plain text; escaped when posted as a notice)."""
    visitor = conversation.visitor
    lines = [f"New conversation with {visitor.name or 'a visitor'}"]
    lines.append(f"Page: {visitor.page_url or 'unknown'}")
    lines.append(f"Language: {visitor.language or '?'}")
    if visitor.email:
        lines.append(f"E-mail: {visitor.email}")
    return "\n".join(lines)


def item(post: Item) -> str:
    """One numbered message of the conversation, as HTML."""
    author = post.author
    if post.kind is ItemKind.NOTE:
        by = f"\n— {author.name}" if author.name else ""
        return _post(f"{NOTE} ", f"{NOTE} ", post.body + by)
    if author.kind == AuthorKind.AGENT:
        name = author.name or "Agent"
        return _post(f"<b>{escape(name)}</b>: ", f"{name}: ", post.body)
    if post.kind is ItemKind.SYSTEM:
        return _post(f"{INFO} ", f"{INFO} ", post.body)
    return _post("", "", post.body)


def notice(text: str) -> str:
    return _post(f"{INFO} ", f"{INFO} ", text)


def answer(text: str) -> str:
    """What the bridge tells one user (a reply to their message)."""
    return _post("", "", text)


def pointer(chat: str, thread: str) -> str:
    return notice(
        f"Transferred: this conversation continues in another group ({chat}, topic {thread})."
    )
