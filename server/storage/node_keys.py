"""Which encryption key each running node seals with, as the nodes report it.

A node writes its report at start and then every ``key_report_secs`` into the database
every node (and ``steadydesk reencrypt``) shares: a platform setting
``node.keys:<node>`` holding ``{"current": kid or null, "keys": [...], "expires_ms"}``.
A report is believed until it expires (three refresh periods, so a node killed with -9
stops counting soon after); a node that stops cleanly removes its own.

``reencrypt`` reads the reports before it retires anything: a node that still seals new
rows with an older key would write rows that no longer open once that key is dropped.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from server.security.encryption import Keyring
from server.storage.models import Setting

PLATFORM = "_platform"  # the platform's own rows (as operators' login attempts)
PREFIX = "node.keys:"
EXPIRY_PERIODS = 3


@dataclass(frozen=True)
class NodeKeys:
    node: str
    current: str | None  # None: the node seals nothing (no keys configured)
    keys: tuple[str, ...]
    expires_ms: int


def _key(node: str) -> str:
    return (PREFIX + node)[:100]


def report(node: str, keyring: Keyring | None, every_secs: float) -> None:
    """Record (or refresh) this node's keys; a blocking unit of work."""
    now_ms = int(time.time() * 1000)
    value = json.dumps(
        {
            "node": node,
            "current": keyring.current if keyring else None,
            "keys": sorted(keyring.key_ids) if keyring else [],
            "expires_ms": now_ms + int(EXPIRY_PERIODS * every_secs * 1000),
        }
    )
    where = (Setting.tenant_id == PLATFORM) & (Setting.key == _key(node))
    if not Setting.update(value=value).where(where).execute():
        fresh = Setting.insert(tenant_id=PLATFORM, key=_key(node), value=value)
        fresh.on_conflict_ignore().execute()


def forget(node: str) -> None:
    """A node stopping cleanly seals nothing any more."""
    Setting.delete().where((Setting.tenant_id == PLATFORM) & (Setting.key == _key(node))).execute()


def live_reports(now_ms: int | None = None) -> list[NodeKeys]:
    """The reports of nodes that are (as far as anyone can tell) still running."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    rows = Setting.select(Setting.value).where(
        (Setting.tenant_id == PLATFORM) & Setting.key.startswith(PREFIX)
    )
    found: list[NodeKeys] = []
    for row in rows:
        try:
            data = json.loads(row.value)
            entry = NodeKeys(
                node=str(data["node"]),
                current=None if data["current"] is None else str(data["current"]),
                keys=tuple(str(k) for k in data["keys"]),
                expires_ms=int(data["expires_ms"]),
            )
        except (ValueError, KeyError, TypeError):
            continue
        if entry.expires_ms > now_ms:
            found.append(entry)
    return sorted(found, key=lambda e: e.node)
