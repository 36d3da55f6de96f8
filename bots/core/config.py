"""Bridge configuration (BRIDGES §2): defaults < ``--config`` JSON file < environment.

Keys in the JSON file are the environment variables' names (``"SLACK_CHANNEL": "C123"``)
or the field names below (``"slack_channel"``); the environment always wins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class BridgeConfig:
    kind: str
    server: str = ""
    token: str = ""
    host: str = "127.0.0.1"
    port: int = 8810
    state: str = ""
    data_dir: str = "./data"
    # Slack
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    slack_channel: str = ""
    slack_channel_map: Mapping[str, str] = field(default_factory=dict)
    # Telegram
    telegram_bot_token: str = ""
    telegram_webhook_secret: str = ""
    telegram_webhook_url: str = ""
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_chat: str = ""
    telegram_chat_map: Mapping[str, str] = field(default_factory=dict)
    # Beyond the contract (docs/bridges.md): resilience knobs.
    breaker_threshold: int = 5
    breaker_reset_secs: float = 10.0
    backoff_base_secs: float = 0.5
    backoff_cap_secs: float = 15.0
    post_concurrency: int = 8
    links_refresh_secs: float = 30.0
    # The AI responder (kind "ai", docs/ai.md); generation is on when ai_llm_url is set.
    ai_llm_url: str = ""
    ai_llm_model: str = ""
    ai_llm_key: str = ""
    ai_llm_timeout_secs: float = 8.0
    ai_token_budget: int = 4000
    ai_first_reply_secs: float = 5.0
    ai_confidence: float = 0.3
    ai_low_turns: int = 2
    ai_knowledge_refresh_secs: float = 30.0
    ai_llm_breaker_threshold: int = 3
    ai_llm_breaker_reset_secs: float = 30.0

    @property
    def state_location(self) -> str:
        if self.state:
            return self.state
        return str(Path(self.data_dir) / f"bridge-{self.kind}.sqlite3")

    def require(self, *names: str) -> None:
        missing = [_ENV_OF.get(n, n) for n in names if not getattr(self, n)]
        if missing:
            raise ConfigError(f"missing setting: {', '.join(missing)}")


# Environment variable of each field (BRIDGES §2 names; STEADY_DATA_DIR shared with the server).
_ENV_OF = {
    "server": "STEADY_BRIDGE_SERVER",
    "token": "STEADY_BRIDGE_TOKEN",
    "host": "STEADY_BRIDGE_HOST",
    "port": "STEADY_BRIDGE_PORT",
    "state": "STEADY_BRIDGE_STATE",
    "data_dir": "STEADY_DATA_DIR",
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_app_token": "SLACK_APP_TOKEN",
    "slack_api_url": "SLACK_API_URL",
    "slack_channel": "SLACK_CHANNEL",
    "slack_channel_map": "SLACK_CHANNEL_MAP",
    "telegram_bot_token": "TELEGRAM_BOT_TOKEN",
    "telegram_webhook_secret": "TELEGRAM_WEBHOOK_SECRET",
    "telegram_webhook_url": "TELEGRAM_WEBHOOK_URL",
    "telegram_api_url": "TELEGRAM_API_URL",
    "telegram_chat": "TELEGRAM_CHAT",
    "telegram_chat_map": "TELEGRAM_CHAT_MAP",
    "breaker_threshold": "STEADY_BRIDGE_BREAKER_THRESHOLD",
    "breaker_reset_secs": "STEADY_BRIDGE_BREAKER_RESET_SECS",
    "backoff_base_secs": "STEADY_BRIDGE_BACKOFF_BASE_SECS",
    "backoff_cap_secs": "STEADY_BRIDGE_BACKOFF_CAP_SECS",
    "post_concurrency": "STEADY_BRIDGE_POST_CONCURRENCY",
    "links_refresh_secs": "STEADY_BRIDGE_LINKS_REFRESH_SECS",
    "ai_llm_url": "STEADY_AI_LLM_URL",
    "ai_llm_model": "STEADY_AI_LLM_MODEL",
    "ai_llm_key": "STEADY_AI_LLM_KEY",
    "ai_llm_timeout_secs": "STEADY_AI_LLM_TIMEOUT_SECS",
    "ai_token_budget": "STEADY_AI_TOKEN_BUDGET",
    "ai_first_reply_secs": "STEADY_AI_FIRST_REPLY_SECS",
    "ai_confidence": "STEADY_AI_CONFIDENCE",
    "ai_low_turns": "STEADY_AI_LOW_TURNS",
    "ai_knowledge_refresh_secs": "STEADY_AI_KNOWLEDGE_REFRESH_SECS",
    "ai_llm_breaker_threshold": "STEADY_AI_LLM_BREAKER_THRESHOLD",
    "ai_llm_breaker_reset_secs": "STEADY_AI_LLM_BREAKER_RESET_SECS",
}
ENVIRONMENT_VARIABLES = tuple(_ENV_OF.values())


def _coerce(name: str, kind: Any, value: Any) -> Any:
    where = _ENV_OF.get(name, name)
    if kind in ("Mapping[str, str]",):
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError as exc:
                raise ConfigError(f"{where} must be a JSON object") from exc
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ConfigError(f"{where} must map ids to ids")
        return dict(value)
    try:
        if kind == "int":
            number = int(value)
            if number < 0:
                raise ValueError
            return number
        if kind == "float":
            real = float(value)
            if real < 0:
                raise ValueError
            return real
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where} must be a non-negative number") from exc
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string")
    return value


def load_config(
    kind: str, config_file: str | None = None, environ: Mapping[str, str] | None = None
) -> BridgeConfig:
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if config_file:
        try:
            raw = json.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read --config {config_file}: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"--config {config_file} must hold a JSON object")
        by_env = {env: name for name, env in _ENV_OF.items()}
        for key, value in raw.items():
            name = by_env.get(key, key)
            if name not in _ENV_OF:
                raise ConfigError(f"unknown setting in {config_file}: {key}")
            values[name] = value
    for name, env in _ENV_OF.items():
        if env in environ and environ[env] != "":
            values[name] = environ[env]
    types = {f.name: f.type for f in fields(BridgeConfig)}
    coerced = {name: _coerce(name, types[name], value) for name, value in values.items()}
    config = BridgeConfig(kind=kind, **coerced)
    if not 1 <= config.port <= 65535:
        raise ConfigError("STEADY_BRIDGE_PORT must be 1 to 65535")
    return config
