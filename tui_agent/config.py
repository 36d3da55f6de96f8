"""Where the console keeps its files, and the login cache.

The config dir is ``$STEADYDESK_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/steadydesk``, else
``~/.config/steadydesk``. It holds:

* ``session.json`` (mode 0600): server URL, tenant, e-mail and the login *token* with
  its expiry. Never the password. Logging out drops the token and keeps the rest, so
  the login form comes back filled in.
* ``canned.json`` (optional, written by the agent): canned replies, see
  :mod:`tui_agent.canned`.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CONFIG_DIR_ENV = "STEADYDESK_CONFIG_DIR"
SESSION_FILE = "session.json"
CANNED_FILE = "canned.json"
DEFAULT_SERVER_URL = "http://127.0.0.1:8800"


def config_dir() -> Path:
    explicit = os.environ.get(CONFIG_DIR_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else Path.home() / ".config"
    return base / "steadydesk"


@dataclass
class SavedSession:
    server_url: str = DEFAULT_SERVER_URL
    tenant: str = ""
    email: str = ""
    token: str = ""
    expires_at: str = ""
    agent: dict[str, Any] = field(default_factory=dict)

    def token_usable(self, now: datetime | None = None) -> bool:
        if not self.token:
            return False
        expires = parse_time(self.expires_at)
        return expires is None or expires > (now or datetime.now(UTC))


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time from the server (``...Z`` or with an offset) as an aware datetime."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def load_session(directory: Path | None = None) -> SavedSession:
    path = (directory or config_dir()) / SESSION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return SavedSession()
    if not isinstance(data, dict):
        return SavedSession()
    known = {k: v for k, v in data.items() if k in SavedSession.__dataclass_fields__}
    try:
        return SavedSession(**known)
    except TypeError:
        return SavedSession()


def save_session(session: SavedSession, directory: Path | None = None) -> Path:
    """Write ``session.json`` readable by the owner only (0600, directory 0700).

    The file is created with its final mode (never world-readable, not even for a
    moment) and renamed into place, so a crash leaves the old file or the new one.
    """
    directory = directory or config_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        directory.chmod(0o700)
    path = directory / SESSION_FILE
    tmp = directory / f".{SESSION_FILE}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(session), out, indent=2)
    os.replace(tmp, path)
    path.chmod(0o600)
    return path


def forget_token(directory: Path | None = None) -> None:
    session = load_session(directory)
    if session.token:
        session.token = ""
        session.expires_at = ""
        save_session(session, directory)
