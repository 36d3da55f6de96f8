"""Bridge configuration: defaults < --config JSON < environment (BRIDGES §2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bots.core.config import ConfigError, load_config


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bridge.json"
    path.write_text(
        json.dumps(
            {
                "STEADY_BRIDGE_SERVER": "http://file",
                "slack_channel": "C1",
                "SLACK_CHANNEL_MAP": {"d1": "C2"},
                "STEADY_BRIDGE_PORT": 9000,
            }
        )
    )
    config = load_config("slack", str(path), {"STEADY_BRIDGE_SERVER": "http://env"})
    assert config.server == "http://env"
    assert config.slack_channel == "C1" and config.slack_channel_map == {"d1": "C2"}
    assert config.port == 9000


def test_defaults_follow_the_contract() -> None:
    config = load_config("slack", None, {})
    assert (config.host, config.port) == ("127.0.0.1", 8810)
    assert config.slack_api_url == "https://slack.com/api/"
    assert config.telegram_api_url == "https://api.telegram.org/bot"
    assert config.state_location == "data/bridge-slack.sqlite3"
    assert load_config("slack", None, {"STEADY_DATA_DIR": "/srv/d"}).state_location == (
        "/srv/d/bridge-slack.sqlite3"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STEADY_BRIDGE_PORT": "http"}, "STEADY_BRIDGE_PORT"),
        ({"STEADY_BRIDGE_PORT": "70000"}, "STEADY_BRIDGE_PORT"),
        ({"SLACK_CHANNEL_MAP": "[1]"}, "SLACK_CHANNEL_MAP"),
        ({"SLACK_CHANNEL_MAP": "{"}, "SLACK_CHANNEL_MAP"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("slack", None, env)


def test_missing_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="STEADY_BRIDGE_TOKEN"):
        load_config("slack", None, {"STEADY_BRIDGE_SERVER": "http://x"}).require("server", "token")
