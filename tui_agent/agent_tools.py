"""The desk's use of the server's agent tools (docs/agent-tools.md): canned replies,
departments by name, the visitor's context, labels, search, earlier chats, and writing
into a conversation someone else has (asking first; a team lead barges in).

Kept out of the main screen (which others change too): the screen owns one
:class:`AgentTools`, calls it at a few points, and it runs its REST calls as the screen's
workers (on the app's loop, so it may update widgets directly).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tui_agent.canned import CannedSet, offline, server_canned
from tui_agent.client import ApiError
from tui_agent.models import AgentInfo, AgentStatus, LabelSet, MessageKind
from tui_agent.screens.canned_editor import CannedEditorScreen
from tui_agent.screens.confirm import ConfirmScreen
from tui_agent.screens.earlier import EarlierChatsScreen
from tui_agent.screens.labels import LabelsScreen
from tui_agent.screens.pick_label import PickLabelScreen
from tui_agent.screens.search import SearchFailed, SearchScreen
from tui_agent.untrusted import clean, safe_text, tell
from tui_agent.widgets.composer import Composer
from tui_agent.widgets.conversation_list import ConversationList
from tui_agent.widgets.owner_banner import OwnerBanner
from tui_agent.widgets.visitor_panel import VisitorPanel

if TYPE_CHECKING:
    from tui_agent.screens.main import MainScreen


class AgentTools:
    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self.departments: list[tuple[str, str]] | None = None  # (id, name), by name
        self._local = screen.canned  # the offline fallback (canned.json or built-ins)
        self._detail_asked: set[str] = set()
        self._may_write: set[str] = set()  # someone else's conversations, confirmed

    @property
    def client(self) -> Any:
        return self.screen.client

    def _run(self, work: Any, group: str) -> None:
        self.screen.run_worker(work, group=group, exclusive=True, exit_on_error=False)

    # ------------------------------------------------------------------ at start

    def start(self) -> None:
        self._run(self._load_canned(), "canned")
        self._run(self._load_departments(), "departments")

    async def _load_canned(self) -> None:
        try:
            rows = await self.client.list_canned()
        except ApiError as exc:
            if exc.status == 401:
                return  # the login is over: the lists say so
            self._use_canned(offline(self._local, exc.message))
            return
        if rows is None:
            self._use_canned(offline(self._local, "the server has no canned-reply API"))
            return
        self._use_canned(server_canned(rows))

    def _use_canned(self, canned: CannedSet) -> None:
        self.screen.canned = canned
        self.screen.query_one(Composer).canned = canned
        if canned.problem:
            tell(self.screen, f"Canned replies: {canned.problem}", severity="warning")

    async def _load_departments(self) -> None:
        await self.fetch_departments()

    async def fetch_departments(self) -> list[tuple[str, str]] | None:
        """Departments by name, asked again (None when the server cannot say)."""
        try:
            rows = await self.client.list_departments()
        except ApiError:
            return self.departments  # as last known; the next dialog asks again
        self._set_departments(rows)
        return self.departments

    def _set_departments(self, rows: list[dict[str, Any]] | None) -> None:
        if rows is None:
            return
        self.departments = sorted(
            ((str(r.get("id") or ""), str(r.get("name") or "")) for r in rows),
            key=lambda pair: pair[1].lower(),
        )
        panel = self.screen.query_one(VisitorPanel)
        panel.department_names = dict(self.departments)
        self.screen.refresh_active(log=False)

    # ------------------------------------------------------------------ the open conversation

    def shown(self, conv_id: str) -> None:
        """A conversation came on screen: fetch its visitor's whole context once."""
        conv = self.screen.desk.get(conv_id)
        composer = self.screen.query_one(Composer)
        composer.visitor_email = clean(conv.visitor.email)
        composer.conv_id = conv_id
        if conv_id not in self._detail_asked:
            self._detail_asked.add(conv_id)
            self._run(self._load_detail(conv_id), f"detail-{conv_id}")

    async def _load_detail(self, conv_id: str) -> None:
        tick = self.screen.desk.tick
        try:
            data = await self.client.conversation_detail(conv_id)
        except ApiError:
            self._detail_asked.discard(conv_id)  # asked again when shown again
            return
        if data is None:
            return
        self.screen.desk.apply_detail(data, tick)
        self.screen.schedule_draw()

    def refresh(self) -> None:
        """The banner over the message box (from the screen's refresh_active)."""
        screen = self.screen
        conv = screen.desk.get(screen.active) if screen.active else None
        other = conv is not None and screen.desk.owned_by_other(conv)
        owner = conv.assignee.name if other and conv and conv.assignee else None
        screen.query_one(OwnerBanner).show_owner(owner if other else None, screen.desk.is_admin)

    # ------------------------------------------------------------------ writing

    def guard_send(self, text: str, kind: str) -> bool:
        """True when the send waits for a question first (someone else's conversation)."""
        screen = self.screen
        conv = screen.desk.get(screen.active) if screen.active else None
        if conv is None or not screen.desk.owned_by_other(conv) or conv.id in self._may_write:
            return False
        owner = conv.assignee.name if conv.assignee else "another agent"
        barge = screen.desk.is_admin and kind == MessageKind.TEXT
        question = (
            f"{owner} has this conversation. Barge in? {conv.title} will be told you joined."
            if barge
            else f"{owner} has this conversation. Write into it anyway?"
        )

        def answered(yes: bool | None, conv_id: str = conv.id) -> None:
            if not yes:
                screen.query_one(Composer).set_draft(text)  # nothing lost
                return
            self._may_write.add(conv_id)
            if barge:
                self._run(self._barge_in(conv_id, text, kind), f"join-{conv_id}")
            else:
                screen.send_now(conv_id, text, kind)

        screen.app.push_screen(ConfirmScreen(safe_text(question)), answered)
        return True

    async def _barge_in(self, conv_id: str, text: str, kind: str) -> None:
        try:
            await self.client.join(conv_id)
        except ApiError as exc:
            self._may_write.discard(conv_id)
            self.screen.query_one(Composer).set_draft(text)
            tell(self.screen, f"Could not join: {exc.message}", severity="error")
            return
        self.screen.send_now(conv_id, text, kind)

    # ------------------------------------------------------------------ dialogs

    def edit_canned(self) -> None:
        canned = self.screen.canned
        if not canned.from_server:
            tell(
                self.screen,
                "Canned replies come from this machine (the server's are unavailable): "
                f"edit {canned.source}.",
                severity="warning",
            )
            return

        async def save(reply_id: str, shortcut: str, body: str) -> CannedSet:
            await self.client.save_canned(reply_id, shortcut, body)
            return await self._reloaded()

        async def delete(reply_id: str) -> CannedSet:
            await self.client.delete_canned(reply_id)
            return await self._reloaded()

        def done(result: CannedSet | None) -> None:
            if result is not None:
                self._use_canned(result)

        self.screen.app.push_screen(CannedEditorScreen(canned, save, delete), done)

    async def _reloaded(self) -> CannedSet:
        rows = await self.client.list_canned()
        canned = server_canned(rows or [])
        self.screen.query_one(Composer).canned = canned
        self.screen.canned = canned
        return canned

    def labels(self) -> None:
        conv = self.screen._need_active()
        if conv is not None:
            self._run(self._labels(conv.id), "labels")

    async def _labels(self, conv_id: str) -> None:
        try:
            known = [str(r.get("label")) for r in await self.client.tenant_labels() or []]
        except ApiError:
            known = []
        desk = self.screen.desk
        conv = desk.get(conv_id)

        def answered(labels: LabelSet) -> list[str]:
            # Each answer as it comes, with its version: a colleague's newer change
            # heard meanwhile is not undone by an older answer.
            desk.set_labels(conv_id, labels.labels, labels.version)
            self.screen.schedule_draw()
            return list(labels.labels)

        async def add(label: str) -> list[str]:
            return answered(await self.client.add_label(conv_id, label))

        async def remove(label: str) -> list[str]:
            return answered(await self.client.remove_label(conv_id, label))

        def done(labels: tuple[str, ...] | None) -> None:
            self.screen.schedule_draw()

        self.screen.app.push_screen(LabelsScreen(conv.title, conv.labels, known, add, remove), done)

    def narrow_lists(self) -> None:
        """Narrow the side lists to a label picked from the tenant's (and the loaded
        conversations') labels; when narrowed already, show all again."""
        lists = list(self.screen.query(ConversationList))
        if any(widget.narrowed_to is not None for widget in lists):
            for widget in lists:
                widget.narrow(None)
            return
        self._run(self._narrow_lists(lists), "narrow-lists")

    async def _narrow_lists(self, lists: list[ConversationList]) -> None:
        try:
            labels = [str(r.get("label")) for r in await self.client.tenant_labels() or []]
        except ApiError:
            labels = []
        loaded = {
            label for conv in self.screen.desk.conversations.values() for label in conv.labels
        }
        labels += sorted(loaded - set(labels))

        def chosen(label: str | None) -> None:
            if label:
                for widget in lists:
                    widget.narrow(label)

        self.screen.app.push_screen(PickLabelScreen(labels), chosen)

    def search(self, by_label: bool = False) -> None:
        self._run(self._search(by_label), "search-open")

    async def _search(self, by_label: bool) -> None:
        screen = self.screen
        if self.departments is None:
            await self.fetch_departments()
        try:
            agents = await self.client.list_agents() or []
            labels = [str(r.get("label")) for r in await self.client.tenant_labels() or []]
            server = self._server_search
        except ApiError:  # not reached: search what is loaded here
            agents, labels, server = [], [], None
        screen.load_history()
        screen.app.push_screen(
            SearchScreen(
                screen.desk.search,
                lambda: screen.desk.closed()[:50],
                server,
                agents=[(a.id, a.display_name) for a in agents],
                departments=self.departments or [],
                labels=labels,
                by_label=by_label,
            ),
            screen._search_done,
        )

    async def _server_search(self, filters: dict[str, str]) -> list[dict[str, Any]] | None:
        try:
            return await self.client.search(**filters)
        except ApiError as exc:
            if exc.status == 0:
                return None
            if exc.status == 401:
                raise
            raise SearchFailed(exc.message) from exc

    def earlier(self) -> None:
        conv = self.screen._need_active()
        if conv is None:
            return
        if not conv.visitor.previous:
            tell(self.screen, f"{clean(conv.title)} has no earlier chats.")
            return
        self.screen.app.push_screen(
            EarlierChatsScreen(conv.title, conv.visitor.previous), self.screen._search_done
        )

    # ------------------------------------------------------------------ transfer

    def presence(self, agent: AgentInfo) -> str:
        """The agent's status now: live events first, then what the agent list said."""
        desk = self.screen.desk
        if desk.agent_connected.get(agent.id) is False:
            return AgentStatus.OFFLINE
        return desk.agent_status.get(agent.id) or agent.status

    def connected(self, agent: AgentInfo) -> bool:
        """Whether the agent has a console open (``agent.presence`` since this one opened)."""
        return self.screen.desk.agent_connected.get(agent.id) is True
