"""Which file URLs of a Slack event the bridge fetches with its bot token: Slack's own
hosts (and the configured API's) only; anything else in an event is ignored."""

from __future__ import annotations

from bots.slack.adapter import SlackPlatform


def test_the_bot_token_goes_only_to_slack_hosts() -> None:
    slack = SlackPlatform(
        bot_token="xoxb-t",
        signing_secret="s",
        api_url="http://127.0.0.1:5555/api/",
        channel="C1",
        channel_map={},
    )
    files = [
        {"name": "a.pdf", "url_private_download": "https://files.slack.com/files-pri/T/a.pdf"},
        {"name": "b.pdf", "url_private_download": "http://127.0.0.1:5555/files-pri/F/b.pdf"},
        {"name": "c.pdf", "url_private_download": "https://evil.example/steal"},
        {"name": "d.pdf", "url_private_download": "https://slack.com.evil.example/x"},
        {"name": "e.pdf", "url_private_download": "javascript:alert(1)"},
        {"name": "f.pdf"},
        "not a file",
    ]
    assert [f.name for f in slack.incoming_files(files)] == ["a.pdf", "b.pdf"]
    assert slack.incoming_files(None) == []
