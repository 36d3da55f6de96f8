"""One typed Settings object: defaults < JSON config file < ``STEADY_*`` environment."""

from __future__ import annotations

import json
import os
import secrets
import socket
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, TypeAdapter, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from server.errors import ConfigError

ENV_PREFIX = "STEADY_"

# Keys of the original write-up's config file, mapped to our field names.
_FILE_ALIASES = {"DeploymentMode": "mode", "TenantId": "tenant"}


class DeploymentMode(StrEnum):
    SELF_HOSTED = "SelfHosted"
    SAAS = "SaaS"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    mode: DeploymentMode = DeploymentMode.SELF_HOSTED
    tenant: str = Field("default", pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    data_dir: Path = Path("./data")
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    node: str = ""
    host: str = "127.0.0.1"
    port: int = Field(8800, ge=1, le=65535)
    tls_cert: str = ""
    tls_key: str = ""
    trusted_proxies: str = ""
    metrics_token: str = ""
    metrics_allow: str = "127.0.0.1,::1"
    # Encryption at rest: JSON {"kid": "<base64 of 32 bytes>"}; empty = off.
    encryption_keys: str = ""
    encryption_key_id: str = ""  # the key new values are sealed with

    ws_rate_visitor: int = Field(20, ge=1)
    ws_rate_agent: int = Field(100, ge=1)
    ws_rate_bridge: int = Field(1000, ge=1)  # a bridge speaks for a whole team
    ws_rate_window_secs: float = Field(10.0, gt=0)
    # sync, and read + typing together, per connection per window (issue #11)
    ws_sync_rate_visitor: int = Field(60, ge=1)
    ws_sync_rate_agent: int = Field(200, ge=1)
    ws_signal_rate_visitor: int = Field(60, ge=1)
    ws_signal_rate_agent: int = Field(300, ge=1)
    # Bytes waiting to be written: per connection, then closed 1013 (it resumes), and for
    # the whole node, past which the connection that holds the most is closed.
    ws_send_buffer_bytes: int = Field(2 * 2**20, ge=256 * 2**10)
    ws_send_buffer_node_bytes: int = Field(64 * 2**20, ge=2**20)
    conn_rate_ip: int = Field(60, ge=1)
    heartbeat_secs: float = Field(25.0, gt=0)
    hello_timeout_secs: float = Field(5.0, gt=0)
    body_max_chars: int = Field(4000, ge=1, le=60000)
    send_queue_frames: int = Field(1000, ge=10)
    bad_frames_per_minute: int = Field(10, ge=1)
    shutdown_timeout_secs: float = Field(10.0, gt=0)
    # Diagnostics (bench/chat_pairs.py --tracemalloc): trace allocations and write a
    # snapshot into this directory on each SIGUSR1. Empty: off (tracing costs CPU).
    tracemalloc_dir: str = ""

    visitor_token_ttl_secs: int = Field(7 * 24 * 3600, ge=1)
    agent_token_ttl_secs: int = Field(12 * 3600, ge=1)
    login_max_failures_account: int = Field(10, ge=1)
    login_max_failures_ip: int = Field(30, ge=1)
    login_window_secs: int = Field(15 * 60, ge=1)
    user_hash_max_age_secs: int = Field(24 * 3600, ge=1)
    # Attachments (docs/protocol.md): a directory for their bytes on a single-node install
    # ("" = in the database, which every node reads); how long a signed URL works.
    attachment_dir: str = ""
    # An S3-compatible bucket for them instead (set the bucket to use it; docs/operations.md).
    # Endpoint "" = AWS; key id and secret "" = boto3's own chain (environment, instance role).
    attachment_s3_bucket: str = ""
    attachment_s3_endpoint: str = ""
    attachment_s3_region: str = ""
    attachment_s3_key_id: str = ""
    attachment_s3_secret: str = ""
    attachment_s3_prefix: str = ""  # e.g. "steadydesk/": keys are <prefix><tenant>/<id>
    attachment_s3_timeout_secs: float = Field(10.0, gt=0, le=120)
    attachment_url_ttl_secs: int = Field(1800, ge=30, le=7 * 24 * 3600)
    attachment_gc_secs: float = Field(3600.0, gt=0)  # how often unclaimed uploads are swept
    link_code_ttl_secs: int = Field(600, ge=1, le=3600)  # bridge link codes (docs/bridges.md)

    db_threads: int = Field(8, ge=1, le=64)
    # How long a starting node waits for another node's migration before it gives up.
    migration_wait_secs: int = Field(120, ge=1, le=86400)
    # At saturation a commit takes what waits: 256 held 500 pairs to 0.63x a bare relay,
    # 1,000 reaches 0.84x (docs/benchmarks.md). Bodies bound a batch too (chat/writer.py).
    commit_batch_max: int = Field(1000, ge=1, le=5000)
    writer_lanes: int = Field(1, ge=1, le=8)
    # A lane commits at most once per this many milliseconds (chat/writer.py's commit
    # policy; docs/benchmarks.md): a lone send is never held, under load sends share commits.
    commit_interval_ms: float = Field(5.0, ge=0, le=100)
    offer_sweep_secs: float = Field(0.5, gt=0, le=60)  # each node's look for expired offers
    # An AI robot gone from every node this long hands its conversations to the queue.
    ai_handback_secs: float = Field(30.0, gt=0, le=3600)
    # Presence: each node renews its entries every refresh period; they expire after three.
    bus_subscribe: str = Field("topics", pattern=r"^(pattern|topics)$")
    presence_refresh_secs: float = Field(2.0, gt=0)
    presence_debounce_secs: float = Field(3.0, ge=0)
    # How often a node reports its encryption key ids (reencrypt refuses to retire a key
    # a live node still seals with; a report lapses after three periods).
    key_report_secs: float = Field(10.0, gt=0, le=3600)
    # Backups (docs/backups.md): a cron schedule in UTC ("" = no scheduled backups; six
    # fields = with seconds first), run by the one node holding the lease.
    backup_schedule: str = "0 3 * * *"
    backup_dir: str = ""  # default: <data dir>/backups
    backup_keep_daily: int = Field(7, ge=0)
    backup_keep_weekly: int = Field(4, ge=0)
    backup_keep_monthly: int = Field(6, ge=0)
    backup_lease_secs: float = Field(40.0, ge=1, le=3600)  # a dead holder's lease lapses

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("sqlite", "mysql"):
            raise ValueError("must start with sqlite:/// or mysql://")
        return value

    @field_validator("attachment_s3_endpoint")
    @classmethod
    def _known_endpoint(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must start with https:// (or http:// on a private network)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("redis", "rediss"):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the config file (passed as init kwargs).
        return (env_settings, init_settings)

    # Derived values -------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'steadydesk.db').resolve()}"

    @property
    def node_name(self) -> str:
        return self.node or f"{socket.gethostname()}:{self.port}"

    @property
    def trusted_proxy_set(self) -> frozenset[str]:
        return _csv(self.trusted_proxies)

    @property
    def metrics_allow_set(self) -> frozenset[str]:
        return _csv(self.metrics_allow)

    @property
    def tls_enabled(self) -> bool:
        return bool(self.tls_cert and self.tls_key)

    @property
    def self_hosted(self) -> bool:
        return self.mode is DeploymentMode.SELF_HOSTED


def _csv(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    _override_env: bool = False,
    **overrides: Any,
) -> Settings:
    """Build the settings or raise ``ConfigError`` with one line naming the bad key.

    ``overrides`` sit with the config file, below the environment, unless
    ``_override_env`` (command-line flags win over everything).
    """
    values: dict[str, Any] = {}
    if config_file:
        values.update(_read_config_file(Path(config_file)))
    values.update(overrides)
    try:
        settings = Settings(**values)
        if _override_env and overrides:
            settings = settings.model_copy(update=_checked_flags(overrides))
        return settings
    except ValidationError as err:
        first = err.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        got = first.get("input")
        shown = f" (got {got!r})" if isinstance(got, (str, int, float)) else ""
        raise ConfigError(
            f"bad configuration: {field} ({ENV_PREFIX}{field.upper()}): {first['msg']}{shown}"
        ) from None


def _checked_flags(flags: dict[str, Any]) -> dict[str, Any]:
    """Command-line values, validated against their fields' own rules."""
    checked: dict[str, Any] = {}
    for name, value in flags.items():
        field = Settings.model_fields[name]
        adapter: TypeAdapter[Any] = TypeAdapter(Annotated[field.annotation, field])  # type: ignore[arg-type]
        try:
            checked[name] = adapter.validate_python(value)
        except ValidationError as err:
            message = err.errors()[0]["msg"]
            raise ConfigError(f"bad configuration: --{name}: {message} (got {value!r})") from None
    return checked


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"bad configuration: config file {path} does not exist") from None
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"bad configuration: config file {path} is not valid JSON: {err}"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"bad configuration: config file {path} must hold a JSON object")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(_FILE_ALIASES.get(key, key))
        if name.upper().startswith(ENV_PREFIX):
            name = name[len(ENV_PREFIX) :]
        name = name.lower()
        if name not in Settings.model_fields:
            raise ConfigError(f"bad configuration: unknown key {key!r} in {path}")
        values[name] = value
    return values


def ensure_secret_key(settings: Settings) -> str:
    """The token-signing key: configured, or generated once and kept in the data dir."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: if two processes race, one writes and the other reads the winner's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key)
    return key
