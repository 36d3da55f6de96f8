"""Everything the Slack bridge writes, built in one place: visitor text is escaped here
and nowhere else (Slack's ``&``, ``<``, ``>`` control characters, so ``<!channel>`` or
``<@U…>`` from a visitor is shown, never acted on; ``mrkdwn`` off for the same reason)."""

from __future__ import annotations

import json
from typing import Any

from bots.core.commands import Target
from bots.core.model import AuthorKind, Item, ItemKind, ThreadRef
from bots.core.platform import ThreadStart

TEXT_MAX_CHARS = 39_000  # Slack truncates past 40,000
PLAIN_TEXT_MAX_CHARS = 2_900  # a section's text may hold 3,000
INFO = "\N{INFORMATION SOURCE}\ufe0f"
THREAD_EVENT = "steadydesk_thread"
POST_EVENT = "steadydesk_post"
# The transfer picker (views.open): a modal with one select of departments and agents.
PICKER_CALLBACK = "steady_transfer_picker"
PICKER_BLOCK = "steady_target"
PICKER_ACTION = "target"
PICKER_OPTIONS_MAX = 100  # Block Kit: options in one select
OPTION_TEXT_MAX_CHARS = 75
PRESENCE_MARKS = {"online": "🟢", "away": "🟡", "offline": "⚪"}


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


def root_message(start: ThreadStart, ref: str, previous_link: str = "") -> dict[str, Any]:
    """The thread's first message; ``previous_link`` is the permalink of the thread a
    transfer moved the conversation from (``start.previous``)."""
    visitor = start.visitor
    name = visitor.name or "Visitor"
    details = [f"Page: {visitor.page_url or 'unknown'}", f"Language: {visitor.language or '?'}"]
    if visitor.email:
        details.append(f"E-mail: {visitor.email}")
    first = start.first.body if start.first is not None else ""
    summary = f"{'Transferred' if start.previous else 'New'} conversation with {name}"
    text = f"{summary}: {first}" if first else summary
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(_cut(summary, 150))},
        {"type": "context", "elements": [_plain(line) for line in details]},
    ]
    if start.previous is not None:
        # Our own words and Slack's ids only: mrkdwn, so the links work.
        earlier = _link(previous_link, "an earlier thread")
        where = f"<#{escape(start.previous.channel)}>"
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"Transferred from {earlier} in {where}"}],
            }
        )
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


def _link(url: str, label: str) -> str:
    """A mrkdwn link to a Slack permalink (or the bare label when there is none)."""
    return f"<{escape(url)}|{label}>" if url.startswith("https://") else label


def pointer(
    old: ThreadRef, new: ThreadRef, conv: str, ref: str, new_link: str = ""
) -> dict[str, Any]:
    # Our own text, not the visitor's: the links are meant to work (mrkdwn on).
    post = _in_thread(old, "", metadata(POST_EVENT, conv, ref))
    post["text"] = (
        f"{INFO} This conversation continues in {_link(new_link, 'a new thread')} "
        f"in <#{escape(new.channel)}>. Replies here are not sent."
    )
    post["mrkdwn"] = True
    return post


def transfer_picker(
    conv: str, thread: ThreadRef, departments: list[Target], agents: list[Target]
) -> dict[str, Any]:
    """The modal the Transfer button opens: departments, then agents with presence (online
    first), at most 100 in all; the rest can still be named with ``!transfer``."""
    shown_departments = departments[:PICKER_OPTIONS_MAX]
    shown_agents = agents[: PICKER_OPTIONS_MAX - len(shown_departments)]
    groups = []
    if shown_departments:
        options = [_option(d.name, d) for d in shown_departments]
        groups.append({"label": _plain("Departments"), "options": options})
    if shown_agents:
        options = [
            _option(f"{PRESENCE_MARKS.get(a.presence, '')} {a.name} · {a.presence}", a)
            for a in shown_agents
        ]
        groups.append({"label": _plain("Agents"), "options": options})
    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": PICKER_BLOCK,
            "label": _plain("Transfer to"),
            "element": {
                "type": "static_select",
                "action_id": PICKER_ACTION,
                "placeholder": _plain("A department or an agent"),
                "option_groups": groups,
            },
        }
    ]
    hidden = len(departments) + len(agents) - len(shown_departments) - len(shown_agents)
    if hidden:
        note = f"{hidden} more not listed: write !transfer <name> in the thread."
        blocks.append({"type": "context", "elements": [_plain(note)]})
    return {
        "type": "modal",
        "callback_id": PICKER_CALLBACK,
        "title": _plain("Transfer"),
        "submit": _plain("Transfer"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(
            {"conv": conv, "channel": thread.channel, "root": thread.root}
        ),
        "blocks": blocks,
    }


def _option(text: str, target: Target) -> dict[str, Any]:
    return {
        "text": _plain(_cut(text, OPTION_TEXT_MAX_CHARS)),
        "value": f"{target.kind}:{target.id}",
    }


def picked(view: dict[str, Any]) -> tuple[dict[str, str], Target] | None:
    """From a submitted picker: (its private metadata, the chosen target), or None."""
    try:
        meta = json.loads(str(view.get("private_metadata") or ""))
        state = view["state"]["values"][PICKER_BLOCK][PICKER_ACTION]["selected_option"]
        kind, _, target_id = str(state["value"]).partition(":")
        name = str(state.get("text", {}).get("text", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    fields = ("conv", "channel", "root")
    if kind not in ("agent", "department") or not target_id or not isinstance(meta, dict):
        return None
    if not all(isinstance(meta.get(key), str) for key in fields):
        return None
    return {key: meta[key] for key in fields}, Target(kind, target_id, name)
