"""Settings: defaults < config file (original keys too) < STEADY_* environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.config import ConfigError, DeploymentMode, load_settings


def test_defaults_follow_the_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "STEADY_PORT",
        "STEADY_HOST",
        "STEADY_MODE",
        "STEADY_TENANT",
        "STEADY_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8800)
    assert settings.mode is DeploymentMode.SELF_HOSTED
    assert settings.tenant == "default"
    assert settings.effective_database_url.startswith("sqlite:///")
    assert (settings.ws_rate_visitor, settings.ws_rate_agent, settings.conn_rate_ip) == (
        20,
        100,
        60,
    )


def test_config_file_accepts_the_original_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STEADY_MODE", raising=False)
    monkeypatch.delenv("STEADY_TENANT", raising=False)
    path = tmp_path / "steady.json"
    path.write_text(json.dumps({"DeploymentMode": "SaaS", "TenantId": "yourcompany", "port": 9000}))
    settings = load_settings(path)
    assert settings.mode is DeploymentMode.SAAS
    assert settings.tenant == "yourcompany"
    assert settings.port == 9000


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "steady.json"
    path.write_text(json.dumps({"STEADY_PORT": 9000}))
    monkeypatch.setenv("STEADY_PORT", "9100")
    assert load_settings(path).port == 9100


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"STEADY_PORT": "abc"}, "port (STEADY_PORT)"),
        ({"STEADY_MODE": "Cloud"}, "mode (STEADY_MODE)"),
        ({"STEADY_DATABASE_URL": "postgres://x/y"}, "database_url (STEADY_DATABASE_URL)"),
        ({"STEADY_REDIS_URL": "http://x"}, "redis_url (STEADY_REDIS_URL)"),
        ({"STEADY_TENANT": "Not A Slug"}, "tenant (STEADY_TENANT)"),
    ],
)
def test_bad_values_name_the_key(
    env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_unknown_and_broken_config_files_are_one_line_errors(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"Colour": "blue"}))
    with pytest.raises(ConfigError, match="unknown key 'Colour'"):
        load_settings(unknown)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_settings(broken)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.json")
