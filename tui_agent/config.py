"""Where the console keeps its files, and the login cache.

The config dir is ``$STEADYDESK_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/steadydesk``, else
``~/.config/steadydesk``. It holds:

* ``session.json`` (mode 0600): the saved logins, newest first, each with server URL,
  tenant, e-mail and the login *token* with its expiry. Never the password. Logging
  out drops that login's token and keeps the rest, so the login form comes back filled
  in. With several saved logins (two agents, or two tenants, on one machine) the
  console asks which one to use. A file of an older console (one login, not a list) is
  read as a list of one.
* ``canned.json`` (optional, written by the agent): canned replies, see
  :mod:`tui_agent.canned`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CONFIG_DIR_ENV = "STEADYDESK_CONFIG_DIR"
SESSION_FILE = "session.json"
CANNED_FILE = "canned.json"
DEFAULT_SERVER_URL = "http://127.0.0.1:8800"
MAX_LOGINS = 20


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

    def account(self) -> tuple[str, str, str]:
        """Which login this is: one saved entry per (server, tenant, e-mail)."""
        return (self.server_url.rstrip("/"), self.tenant, self.email.lower())


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time from the server (``...Z`` or with an offset) as an aware datetime."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _session(data: object) -> SavedSession | None:
    if not isinstance(data, dict):
        return None
    known = {k: v for k, v in data.items() if k in SavedSession.__dataclass_fields__}
    try:
        session = SavedSession(**known)
    except TypeError:
        return None
    fields = (session.server_url, session.tenant, session.email, session.token)
    if not all(isinstance(value, str) for value in fields):
        return None
    if not isinstance(session.agent, dict):
        session.agent = {}
    return session


def load_logins(directory: Path | None = None) -> list[SavedSession]:
    """Every saved login, the most recently used first."""
    path = (directory or config_dir()) / SESSION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if isinstance(data, dict) and isinstance(data.get("logins"), list):
        found = [_session(item) for item in data["logins"]]
    else:
        found = [_session(data)]  # an older console's file: one login
    logins: list[SavedSession] = []
    for session in found:
        if session is not None and session.account() not in {s.account() for s in logins}:
            logins.append(session)
    return logins


def load_session(directory: Path | None = None) -> SavedSession:
    """The most recently used login (an empty one when nothing is saved)."""
    logins = load_logins(directory)
    return logins[0] if logins else SavedSession()


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Two consoles saving at once must not drop each other's login."""
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        directory.chmod(0o700)
    fd = os.open(directory / f".{SESSION_FILE}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write(logins: list[SavedSession], directory: Path) -> Path:
    """Write ``session.json`` readable by the owner only (0600, directory 0700).

    The file is created with its final mode (never world-readable, not even for a
    moment) and renamed into place, so a crash leaves the old file or the new one.
    """
    path = directory / SESSION_FILE
    tmp = directory / f".{SESSION_FILE}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"logins": [asdict(s) for s in logins[:MAX_LOGINS]]}, out, indent=2)
    os.replace(tmp, path)
    path.chmod(0o600)
    return path


def save_session(session: SavedSession, directory: Path | None = None) -> Path:
    """Save ``session`` as the most recent login (replacing the same account's entry)."""
    directory = directory or config_dir()
    with _locked(directory):
        others = [s for s in load_logins(directory) if s.account() != session.account()]
        return _write([session, *others], directory)


def forget_token(directory: Path | None = None, session: SavedSession | None = None) -> None:
    """Drop the token of ``session``'s login, or of every saved login."""
    directory = directory or config_dir()
    with _locked(directory):
        logins = load_logins(directory)
        changed = False
        for saved in logins:
            if saved.token and (session is None or saved.account() == session.account()):
                saved.token = ""
                saved.expires_at = ""
                changed = True
        if changed:
            _write(logins, directory)
