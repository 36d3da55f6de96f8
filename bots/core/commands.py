"""What a linked chat-app user's thread reply asks for (BRIDGES §3), sans-I/O.

``!claim``, ``!transfer <agent or department name>``, ``!close``; a reply starting with
``note:`` is a private note; anything else goes to the visitor as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

NOTE_PREFIX = "note:"


class Intent(StrEnum):
    REPLY = "reply"
    NOTE = "note"
    CLAIM = "claim"
    TRANSFER = "transfer"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class Request:
    intent: Intent
    text: str = ""  # the body to send, or the transfer's target name


def read_reply(text: str) -> Request | None:
    """The request in a thread reply; None for an empty reply or a malformed command."""
    stripped = text.strip()
    if not stripped:
        return None
    if stripped[:5].casefold() == NOTE_PREFIX:
        note = stripped[5:].strip()
        return Request(Intent.NOTE, note) if note else None
    if stripped.startswith("!"):
        word, _, rest = stripped[1:].partition(" ")
        word, rest = word.casefold(), rest.strip()
        if word == "claim" and not rest:
            return Request(Intent.CLAIM)
        if word == "close" and not rest:
            return Request(Intent.CLOSE)
        if word == "transfer":
            return Request(Intent.TRANSFER, rest) if rest else None
    return Request(Intent.REPLY, text)


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # "agent" or "department"
    id: str
    name: str


def resolve_target(
    name: str, agents: list[dict[str, object]], departments: list[dict[str, object]]
) -> list[Target]:
    """Agents and departments whose name (or an agent's e-mail) is ``name``, ignoring case
    and surrounding spaces; a leading ``@`` or ``#`` is ignored too."""
    wanted = name.strip().lstrip("@#").strip().casefold()
    found: list[Target] = []
    for dept in departments:
        if str(dept.get("name", "")).strip().casefold() == wanted:
            found.append(Target("department", str(dept.get("id")), str(dept.get("name"))))
    for agent in agents:
        names = {
            str(agent.get("name", "")).strip().casefold(),
            str(agent.get("email", "")).strip().casefold(),
        }
        if wanted in names and agent.get("disabled") is not True:
            found.append(Target("agent", str(agent.get("id")), str(agent.get("name"))))
    return found
