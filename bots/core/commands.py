"""What a linked chat-app user's thread reply asks for (BRIDGES §3), sans-I/O.

``!claim``, ``!transfer <agent or department name>``, ``!close``, ``!note <text>`` (Slack;
Telegram writes them with ``/``); a reply starting with ``note:`` is a private note;
anything else goes to the visitor as written.
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
    target: Target | None = None  # a transfer's target when picked (not typed by name)


def read_reply(text: str, *, prefix: str = "!", strict: bool = False) -> Request | None:
    """The request in a thread reply; None for an empty reply or a malformed command.

    ``strict``: a word after ``prefix`` that names no command is refused (None) rather than
    sent to the visitor; right for Telegram, where ``/word`` is always meant for a bot, not
    for Slack, where people write ``!important`` in prose.
    """
    stripped = text.strip()
    if not stripped:
        return None
    if stripped[:5].casefold() == NOTE_PREFIX:
        note = stripped[5:].strip()
        return Request(Intent.NOTE, note) if note else None
    if stripped.startswith(prefix):
        word, _, rest = stripped[len(prefix) :].partition(" ")
        word, rest = word.casefold(), rest.strip()
        if word == "claim" and not rest:
            return Request(Intent.CLAIM)
        if word == "close" and not rest:
            return Request(Intent.CLOSE)
        if word in ("transfer", "note"):
            intent = Intent.TRANSFER if word == "transfer" else Intent.NOTE
            return Request(intent, rest) if rest else None
        if strict:
            return None
    return Request(Intent.REPLY, text)


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # "agent" or "department"
    id: str
    name: str
    presence: str = ""  # an agent's: online, away or offline
    email: str = ""

    @property
    def label(self) -> str:
        if self.kind == "department":
            return f"the department {self.name}"
        return f"the agent {self.name}" + (f" ({self.email})" if self.email else "")


PRESENCE_ORDER = {"online": 0, "away": 1, "offline": 2}
NAMES_SHOWN = 10


def _agent(row: dict[str, object]) -> Target:
    status = str(row.get("status") or "offline")
    presence = status if row.get("connected") is True and status in PRESENCE_ORDER else "offline"
    return Target(
        "agent",
        str(row.get("id")),
        str(row.get("name") or ""),
        presence,
        str(row.get("email") or ""),
    )


def resolve_target(
    name: str, agents: list[dict[str, object]], departments: list[dict[str, object]]
) -> list[Target]:
    """Agents and departments whose name (or an agent's e-mail) is ``name``, ignoring case
    and surrounding spaces. A leading ``@`` looks among agents only, ``#`` among
    departments only (how a name that is both is told apart)."""
    stripped = name.strip()
    only = {"@": "agent", "#": "department"}.get(stripped[:1])
    wanted = stripped.lstrip("@#").strip().casefold()
    found: list[Target] = []
    if only != "agent":
        for dept in departments:
            if str(dept.get("name", "")).strip().casefold() == wanted:
                found.append(Target("department", str(dept.get("id")), str(dept.get("name"))))
    if only != "department":
        for agent in agents:
            names = {
                str(agent.get("name", "")).strip().casefold(),
                str(agent.get("email", "")).strip().casefold(),
            }
            if wanted in names and agent.get("disabled") is not True:
                found.append(_agent(agent))
    return found


def transfer_options(
    agents: list[dict[str, object]], departments: list[dict[str, object]]
) -> tuple[list[Target], list[Target]]:
    """(departments by name, enabled agents online first, then away, then offline)."""
    depts = sorted(
        (Target("department", str(d.get("id")), str(d.get("name") or "")) for d in departments),
        key=lambda t: t.name.casefold(),
    )
    people = sorted(
        (_agent(a) for a in agents if a.get("disabled") is not True),
        key=lambda t: (PRESENCE_ORDER.get(t.presence, 3), t.name.casefold()),
    )
    return depts, people


def no_single_match(
    name: str,
    found: list[Target],
    agents: list[dict[str, object]],
    departments: list[dict[str, object]],
) -> str:
    """What to tell someone whose ``!transfer <name>`` named nobody, or several."""
    shown = name.strip()
    if found:
        listed = "; ".join(t.label for t in found[:NAMES_SHOWN])
        return (
            f"'{shown}' matches more than one: {listed}. Write @name or an e-mail for an "
            "agent, #name for a department, or use the Transfer button."
        )
    depts, people = transfer_options(agents, departments)

    def names(targets: list[Target]) -> str:
        more = len(targets) - NAMES_SHOWN
        listed = ", ".join(t.name for t in targets[:NAMES_SHOWN]) or "none"
        return listed + (f" and {more} more" if more > 0 else "")

    return (
        f"No agent or department is named '{shown}'. Departments: {names(depts)}. "
        f"Agents: {names(people)}."
    )
