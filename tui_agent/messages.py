"""App-wide Textual messages: what the client, the workers and the widgets tell screens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.message import Message

from tui_agent.config import SavedSession
from tui_agent.models import AgentInfo, ConversationPage, ConversationSummary


class ServerEvents(Message):
    """Events of the client service are waiting in the screen's inbox (the adapter
    between it and Textual). One message drains everything that arrived meanwhile, so a
    burst of hundreds of frames is one turn of the screen, and keys do not wait behind
    hundreds of messages."""


class LoggedIn(Message):
    def __init__(self, session: SavedSession) -> None:
        super().__init__()
        self.session = session


class LoginChosen(Message):
    """A saved login picked from several (``None``: another one, typed in)."""

    def __init__(self, session: SavedSession | None, server_url: str = "") -> None:
        super().__init__()
        self.session = session
        self.server_url = server_url


class LoginFailed(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class ConversationsLoaded(Message):
    """A REST list arrived. ``rows`` is None when the server has no such endpoint."""

    def __init__(
        self, rows: Sequence[ConversationSummary] | None, status: str, gone: Sequence[str] = ()
    ) -> None:
        super().__init__()
        self.rows = rows
        self.status = status
        self.gone = gone  # open before the call, absent from a complete answer: closed


class ListPageLoaded(Message):
    """A page of one of the desk's lists (``queue``, ``mine``, ``open``), asked for when
    the desk's tick was ``since_tick``. ``page`` is None when the server has no lists."""

    def __init__(
        self, name: str, page: ConversationPage | None, first: bool, since_tick: int
    ) -> None:
        super().__init__()
        self.name = name
        self.page = page
        self.first = first
        self.since_tick = since_tick


class ListCounted(Message):
    """How many ``name`` holds on the server, counting conversations created up to
    ``counted_until`` (the newest one's creation time)."""

    def __init__(self, name: str, total: int | None, counted_until: str | None) -> None:
        super().__init__()
        self.name = name
        self.total = total
        self.counted_until = counted_until


class AgentsLoaded(Message):
    def __init__(
        self,
        agents: Sequence[AgentInfo] | None,
        for_transfer: bool,
        departments: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__()
        self.agents = agents
        self.for_transfer = for_transfer
        self.departments = departments  # (id, name); None: not known


class RestFailed(Message):
    def __init__(self, what: str, reason: str, auth: bool = False) -> None:
        super().__init__()
        self.what = what
        self.reason = reason
        self.auth = auth


class ConversationChosen(Message):
    """A list, a tab or the search dialog picked a conversation to show."""

    def __init__(self, conv: str) -> None:
        super().__init__()
        self.conv = conv


class ComposerSubmitted(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ComposerTyping(Message):
    def __init__(self, on: bool) -> None:
        super().__init__()
        self.on = on


@dataclass(frozen=True)
class TransferChoice:
    to_agent: str = ""
    to_department: str = ""
    note: str = ""
    label: str = ""
