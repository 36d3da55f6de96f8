"""What Slack delivers to an app, in the shapes of its reference: Events API callbacks
(thread messages, edits, deletions, the app's own posts coming back), interactivity
payloads (``block_actions``, ``message_action``, ``view_submission``) and slash command
fields. Plain functions: :class:`tests.fakes.slack.FakeSlack` wraps them and remembers the
``trigger_id`` each interaction carries (``views.open`` takes only those, for 3 seconds).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

TEAM_ID = "T0STEADY"
BOT_USER_ID = "U0BRIDGEBOT"
BOT_ID = "B0BRIDGE"
APP_ID = "A0STEADY"


def new_trigger_id() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:16]}"


def _callback(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:12].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def message_event(
    message: dict[str, Any], channel: str, *, event_id: str | None = None
) -> dict[str, Any]:
    """``message`` event for a message as ``conversations.replies`` shows it."""
    event = {**message, "channel": channel, "event_ts": message["ts"], "channel_type": "channel"}
    return _callback(event, event_id)


def changed_event(
    before: dict[str, Any], channel: str, new_text: str, *, edited_by: str | None
) -> dict[str, Any]:
    """``message_changed``: an edit by ``edited_by``, or (None) Slack itself changing the
    message without its author, e.g. attaching a link preview (no ``edited`` field)."""
    after = {**before, "text": new_text}
    if edited_by is not None:
        after["edited"] = {"user": edited_by, "ts": f"{time.time():.6f}"}
    else:
        after["attachments"] = [{"id": 1, "title": "a preview", "from_url": "https://x.test"}]
    event = {
        "type": "message",
        "subtype": "message_changed",
        "channel": channel,
        "hidden": True,
        "message": after,
        "previous_message": before,
        "ts": f"{time.time():.6f}",
        "event_ts": f"{time.time():.6f}",
        "channel_type": "channel",
    }
    return _callback(event)


def deleted_event(before: dict[str, Any], channel: str) -> dict[str, Any]:
    now = f"{time.time():.6f}"
    event = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": channel,
        "hidden": True,
        "deleted_ts": before["ts"],
        "previous_message": before,
        "ts": now,
        "event_ts": now,
        "channel_type": "channel",
    }
    return _callback(event)


def _actor(user: str) -> dict[str, Any]:
    return {"id": user, "username": user, "name": user, "team_id": TEAM_ID}


def button_payload(
    conv: str, action_id: str, user: str, channel: str, root_ts: str, trigger_id: str
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "steady"},
        "user": _actor(user),
        "api_app_id": APP_ID,
        "token": "legacy",
        "trigger_id": trigger_id,
        "channel": {"id": channel, "name": "support"},
        "container": {"type": "message", "message_ts": root_ts, "channel_id": channel},
        "message": {"type": "message", "ts": root_ts, "bot_id": BOT_ID, "user": BOT_USER_ID},
        "response_url": "http://127.0.0.1:9/unused",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"steady_actions:{conv}",
                "value": conv,
                "action_ts": f"{time.time():.6f}",
                "text": {"type": "plain_text", "text": action_id, "emoji": False},
            }
        ],
    }


def shortcut_payload(
    message: dict[str, Any], channel: str, user: str, trigger_id: str
) -> dict[str, Any]:
    return {
        "type": "message_action",
        "callback_id": "steady_add_note",
        "team": {"id": TEAM_ID, "domain": "steady"},
        "user": _actor(user),
        "channel": {"id": channel, "name": "support"},
        "message": message,
        "message_ts": message["ts"],
        "trigger_id": trigger_id,
        "token": "legacy",
        "response_url": "http://127.0.0.1:9/unused",
    }


def view_submission(
    view: dict[str, Any], user: str, values: dict[str, dict[str, Any]], trigger_id: str
) -> dict[str, Any]:
    """The modal ``view`` (as ``views.open`` answered it) submitted by ``user`` with its
    state ``values`` ({block_id: {action_id: element state}})."""
    submitted = {**view, "state": {"values": values}}
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "steady"},
        "user": _actor(user),
        "api_app_id": APP_ID,
        "token": "legacy",
        "trigger_id": trigger_id,
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def selected(option: dict[str, Any]) -> dict[str, Any]:
    """A static_select's state after the user picked ``option``."""
    return {"type": "static_select", "selected_option": option}


def command_fields(text: str, user: str, channel: str, trigger_id: str) -> dict[str, str]:
    return {
        "token": "legacy",
        "team_id": TEAM_ID,
        "team_domain": "steady",
        "channel_id": channel,
        "channel_name": "support",
        "user_id": user,
        "user_name": user,
        "command": "/steady",
        "text": text,
        "api_app_id": APP_ID,
        "response_url": "http://127.0.0.1:9/unused",
        "trigger_id": trigger_id,
    }
