"""The desk: queue and lists on the left, conversation tabs in the middle, visitor on the right.

The screen owns the client service and the desk model. Client events arrive as
:class:`~tui_agent.messages.ServerEvents` messages (one for many); REST calls run in
named workers that post their results back as messages. Widgets get data from here
(attributes down) and report choices and input as messages (messages up).
"""

from __future__ import annotations

from collections.abc import Callable, Set
from datetime import UTC, datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from steadywire import EventName
from tui_agent.agent_tools import AgentTools
from tui_agent.canned import CannedSet
from tui_agent.client import ApiError, NotConnected, SteadydeskClient
from tui_agent.collector import COLLECTOR
from tui_agent.config import SavedSession
from tui_agent.desk import Conversation, Desk
from tui_agent.events import (
    AuthExpired,
    ClientEvent,
    ConnectionChanged,
    ConversationEvent,
    MessagesArrived,
    ReadReceipt,
    SendAcked,
    SendFailed,
    ServerError,
    TypingChanged,
    Welcomed,
)
from tui_agent.keys import main_bindings
from tui_agent.messages import (
    AgentsLoaded,
    ComposerSubmitted,
    ComposerTyping,
    ConversationChosen,
    ConversationsLoaded,
    ListCounted,
    ListPageLoaded,
    RestFailed,
    ServerEvents,
    TransferChoice,
)
from tui_agent.models import AgentInfo, AgentStatus, ConnectionState, ConversationStatus
from tui_agent.notices import NEW_CHAT, NEW_MESSAGE, NoticeBatch
from tui_agent.screens.admin.open import admin_hub
from tui_agent.screens.attach_actions import AttachmentActions
from tui_agent.screens.confirm import ConfirmScreen
from tui_agent.screens.help import HelpScreen
from tui_agent.screens.monitor import MonitorScreen
from tui_agent.screens.search import SearchScreen
from tui_agent.screens.status import StatusScreen
from tui_agent.screens.transfer import TransferScreen
from tui_agent.streams import Backoff
from tui_agent.untrusted import clean, safe_text, tell
from tui_agent.widgets.composer import Composer
from tui_agent.widgets.connection_indicator import ConnectionIndicator
from tui_agent.widgets.conversation_list import ConversationList
from tui_agent.widgets.conversation_log import ConversationLog
from tui_agent.widgets.key_bar import KeyBar
from tui_agent.widgets.owner_banner import OwnerBanner
from tui_agent.widgets.tab_bar import TabBar
from tui_agent.widgets.visitor_panel import VisitorPanel

LIST_LIMIT = 200  # the server's maximum page of GET /api/v1/conversations
PAGE_ROWS = 100  # rows per page of a list; more are fetched as the agent scrolls
LIST_QUERIES = {  # the desk's lists as GET /api/v1/conversations filters, oldest first
    "queue": {"status": "queued", "order": "oldest"},
    "mine": {"status": "active", "assignee": "me", "order": "oldest"},
    "open": {"status": "open", "order": "oldest"},
}
LIST_REFRESH_SECS = 15.0  # waiting times tick, and the totals are asked again, this often
FRAME_SECS = 1 / 30  # events are drawn together, at most once this often
RECOUNT_SECS = 1.0  # a partly loaded list's total is asked again at most this often
NOTICE_BATCH_SECS = 0.5  # new chats arriving together make one notice
SESSION_OVER = "The server refused the saved login (expired or revoked): please log in again."

ERROR_TEXT = {
    "already_assigned": "Another agent already took this conversation.",
    "conversation_closed": "This conversation is closed.",
    "forbidden": "Not allowed.",
    "not_found": "No such conversation, agent or department.",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class MainScreen(AttachmentActions, Screen[None]):
    BINDINGS = main_bindings()

    # Textual's Screen repaints itself whole when the focus moves (every widget drawn
    # again, ~25 ms here: the costliest part of alt+q during a burst, issue #22). The
    # widgets the move concerns restyle and redraw themselves (Widget's focus and blur
    # handlers, the :focus-within pass), so the desk's focus repaints nothing else.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    def __init__(
        self,
        session: SavedSession,
        canned: CannedSet,
        *,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__()
        self.session = session
        self.canned = canned
        self.clock = clock
        self.desk = Desk()
        self.desk.me_id = str(session.agent.get("id") or "")
        self.desk.me_name = str(session.agent.get("name") or session.email)
        self.client = SteadydeskClient(
            session.server_url,
            self._emit,
            token=session.token,
            tenant=session.tenant,
            backoff=backoff,
        )
        self.tab_bar = TabBar(id="tabs")  # one tab per open conversation, by its id
        self.active: str | None = None
        self.agents: list[AgentInfo] | None = None
        self._accepting: set[str] = set()
        self._missing_rest: set[str] = set()
        self._welcomed = False
        self.lists_ready = False  # the first REST lists have arrived
        self._over = False
        self._draw_pending = False
        self._inbox: list[ClientEvent] = []
        self._recount_due: set[str] = set()
        self._notices = NoticeBatch()
        self._typing_shown: str | None = None
        self.desk.my_role = str(session.agent.get("role") or "")
        self.tools = AgentTools(self)

    def _emit(self, event: ClientEvent) -> None:
        COLLECTOR.busy()
        self._inbox.append(event)
        if len(self._inbox) == 1:
            self.post_message(ServerEvents())

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="topbar"):
            yield Static(id="whoami")
            yield ConnectionIndicator(id="connection")
        with Horizontal(id="body"):
            with Vertical(id="lists"):
                desk = self.desk
                yield ConversationList(
                    "Queue", desk, "queue", id="queue", empty="no one is waiting"
                )
                yield ConversationList("Mine", desk, "mine", id="mine", empty="none yet")
                yield ConversationList(
                    "All open", desk, "open", id="open", show_assignee=True, empty="none"
                )
            with Vertical(id="center"):
                yield self.tab_bar
                yield ConversationLog(id="log")
                yield Static("", id="typing")
                yield OwnerBanner(id="owner-banner", classes="-hidden")
                yield Composer(self.canned, id="composer")
            yield VisitorPanel(id="visitor")
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        composer = self.query_one(Composer)
        composer.agent_name = self.desk.me_name
        self.refresh_lists(tick=True)
        self.refresh_active()
        self.refresh_whoami()
        self.load_lists()
        self.run_connection()
        self.set_interval(LIST_REFRESH_SECS, self._tick)
        composer.focus_input()
        self.tools.start()  # the server's canned replies, departments

    async def on_unmount(self) -> None:
        await self.client.aclose()

    # ------------------------------------------------------------------ workers

    @work(exclusive=True, group="ws", exit_on_error=False)
    async def run_connection(self) -> None:
        await self.client.run()

    def load_lists(self) -> None:
        """The first page of every list (again): totals, and what changed meanwhile."""
        for name in LIST_QUERIES:
            self.run_worker(
                self._load_page(name, first=True),
                group=f"list-{name}",
                exclusive=True,
                exit_on_error=False,
            )

    def _load_more(self, name: str) -> None:
        if self.desk.lists[name].more:
            self.run_worker(
                self._load_page(name, first=False),
                group=f"list-{name}",
                exclusive=True,
                exit_on_error=False,
            )

    async def _load_page(self, name: str, first: bool) -> None:
        state = self.desk.lists[name]
        cursor = None if first else state.next_cursor
        everything = name == "mine"  # one agent's own: small, and wanted whole
        while True:
            tick = self.desk.tick
            try:
                page = await self.client.list_page(
                    **LIST_QUERIES[name],
                    limit=LIST_LIMIT if everything else PAGE_ROWS,
                    cursor=cursor,
                )
            except ApiError as exc:
                self.post_message(RestFailed("conversation list", exc.message, exc.status == 401))
                return
            self.post_message(ListPageLoaded(name, page, first, tick))
            if not everything or page is None or page.next_cursor is None:
                return
            cursor, first = page.next_cursor, False

    @work(group="count", exit_on_error=False)
    async def count_list(self, name: str) -> None:
        try:
            query = {**LIST_QUERIES[name], "order": "newest"}
            page = await self.client.list_page(**query, limit=1)
        except ApiError:
            return  # the next event or tick asks again
        if page is not None:
            newest = page.rows[0].created_at if page.rows else ""
            self.post_message(ListCounted(name, page.total, newest))

    @work(exclusive=True, group="history", exit_on_error=False)
    async def load_history(self) -> None:
        try:
            rows = await self.client.list_conversations(status="closed", limit=LIST_LIMIT)
        except ApiError as exc:
            self.post_message(RestFailed("closed conversations", exc.message, exc.status == 401))
            return
        self.post_message(ConversationsLoaded(rows, "closed"))

    @work(exclusive=True, group="agents", exit_on_error=False)
    async def load_agents(self, for_transfer: bool) -> None:
        try:
            agents = await self.client.list_agents()
        except ApiError as exc:
            self.post_message(RestFailed("agent list", exc.message, exc.status == 401))
            agents = None
        departments = await self.tools.fetch_departments() if for_transfer else None
        self.post_message(AgentsLoaded(agents, for_transfer, departments))

    # ------------------------------------------------------------------ REST results

    def on_list_page_loaded(self, message: ListPageLoaded) -> None:
        page = message.page
        if page is None:
            self._rest_missing("GET /api/v1/conversations", "lists show only what arrives live")
            return
        self.desk.apply_page(
            message.name,
            page.rows,
            page.total,
            page.next_cursor,
            first=message.first,
            since_tick=message.since_tick,
        )
        self.lists_ready = self.lists_ready or all(s.loaded for s in self.desk.lists.values())
        if message.first and page.next_cursor is not None:
            self.count_list(message.name)  # what new chats to add to the total from now on
        for row in page.rows:
            if self.desk.is_mine(self.desk.get(row.id)) and (
                self.client.needs_history(row.id) or self.client.last_seq(row.id) < row.last_seq
            ):
                self.client.follow(row.id)
        self.schedule_draw()

    def on_list_counted(self, message: ListCounted) -> None:
        if not self.desk.lists[message.name].complete:
            self.desk.set_total(message.name, message.total, message.counted_until)
            self.schedule_draw()

    def on_conversation_list_need_more(self, message: ConversationList.NeedMore) -> None:
        self._load_more(message.name)

    def on_conversations_loaded(self, message: ConversationsLoaded) -> None:
        for row in message.rows or ():
            self.desk.apply_summary(row)
        self.schedule_draw()
        if isinstance(self.app.screen, SearchScreen) and self.app.screen.local:
            self.app.screen.refresh_results()

    def on_agents_loaded(self, message: AgentsLoaded) -> None:
        if message.agents is None:
            self._rest_missing("GET /api/v1/agents", "transfer to a department only")
        else:
            self.agents = list(message.agents)
        if message.for_transfer and self.active:
            conv = self.desk.get(self.active)
            self.app.push_screen(
                TransferScreen(
                    conv.title,
                    message.agents,
                    self.desk.me_id,
                    message.departments,
                    self.tools.presence,
                    self.tools.connected,
                ),
                lambda choice, conv_id=conv.id: self._transfer(conv_id, choice),
            )

    def on_rest_failed(self, message: RestFailed) -> None:
        if message.auth:
            self.app.call_later(self._session_over, SESSION_OVER)
            return
        tell(self, f"Could not load the {message.what}: {message.reason}", severity="error")

    def _rest_missing(self, endpoint: str, consequence: str) -> None:
        if endpoint not in self._missing_rest:
            self._missing_rest.add(endpoint)
            tell(self, f"The server has no {endpoint}: {consequence}.", severity="warning")

    # ------------------------------------------------------------------ client events

    def on_server_events(self, message: ServerEvents) -> None:
        events, self._inbox = self._inbox, []
        for event in events:
            self._server_event(event)

    def _server_event(self, event: ClientEvent) -> None:
        match event:
            case ConnectionChanged():
                self.query_one(ConnectionIndicator).show(event)
                if event.state is ConnectionState.RESUMED:
                    tell(self, "Reconnected: missed messages were replayed.")
            case Welcomed():
                self._welcomed_as(event)
            case MessagesArrived():
                self._messages(event)
            case SendAcked():
                pass  # the message's own echo replaces the pending line
            case SendFailed():
                self.desk.fail_pending(event.conv, event.cid, event.message or event.code)
                tell(
                    self, f"Not sent: {ERROR_TEXT.get(event.code, event.message)}", severity="error"
                )
                self.schedule_draw()
            case ConversationEvent():
                self._conversation_event(event)
                for screen in self.app.screen_stack:  # the live monitor, when it is open
                    if isinstance(screen, MonitorScreen):
                        screen.feed(event)
            case TypingChanged():
                if event.sender.type == "visitor":
                    self.desk.set_typing(event.conv, event.on)
                    self.schedule_draw()
            case ReadReceipt():
                if event.sender.type == "visitor":
                    self.desk.visitor_read(event.conv, event.seq)
                    self.schedule_draw()
            case ServerError():
                if event.code == "already_assigned":
                    self._accepting.discard(event.conv)
                    self.desk.set_taking(event.conv, False)
                    self.schedule_draw()
                tell(
                    self,
                    ERROR_TEXT.get(event.code, f"{event.code}: {event.message}"),
                    severity="error",
                )
            case AuthExpired():
                self.app.call_later(self._session_over, SESSION_OVER)

    def _welcomed_as(self, event: Welcomed) -> None:
        you = event.you
        self.desk.me_id = str(you.get("id") or self.desk.me_id)
        self.desk.me_name = str(you.get("name") or self.desk.me_name)
        self.desk.set_my_status(str(you.get("status") or ""))
        self.desk.my_role = str(you.get("role") or self.desk.my_role)
        if not self._welcomed and self.desk.my_status in ("", AgentStatus.OFFLINE):
            self.client.set_status(AgentStatus.ONLINE)  # opening the console means at work
            self.desk.set_my_status(AgentStatus.ONLINE)  # shown now; agent.status confirms
        self._welcomed = True
        self.refresh_whoami()
        if event.resumed:
            self.load_lists()  # what changed while we were away (closed, taken, ...)

    def _messages(self, event: MessagesArrived) -> None:
        unknown = not self.desk.get(event.conv).status
        from_visitor = self.desk.add_messages(event.conv, event.messages)
        conv = self.desk.get(event.conv)
        if unknown and event.source == "live":
            self.load_lists()  # a conversation we had not heard of: who is it?
        if event.conv == self.active:
            self._mark_read()
        elif from_visitor and event.source == "live" and self.desk.is_mine(conv):
            self._new_message(conv.title, from_visitor[-1].body)
        self.schedule_draw()

    def _conversation_event(self, event: ConversationEvent) -> None:
        lists = self.desk.lists
        before = {name: event.conv in lists[name].ids for name in ("queue", "open")}
        notice = self.desk.apply_event(event)
        self.schedule_draw()
        if not event.conv or event.name == EventName.CONV_LABELS:
            # Tenant-wide events (agent.presence, ...) name no chat; labels change only
            # chats this desk already holds, and move none between lists.
            return
        conv = self.desk.get(event.conv)
        for name, was in before.items():  # the total may have moved beyond what is loaded
            if (event.conv in lists[name].ids) != was or (
                not was and event.name in ("conv.assigned", "conv.closed", "conv.transferred")
            ):
                self._recount(name)
        if notice is not None and event.name == "conv.queued":
            self._new_chat(conv.title, notice.bell)
        elif notice is not None:
            if notice.bell:
                self.app.bell()
            tell(self, notice.text)
        if (
            event.name == "conv.assigned"
            and self.desk.is_mine(conv)
            and event.conv in self._accepting
        ):
            self._accepting.discard(event.conv)
            self.run_worker(self.open_tab(event.conv), exit_on_error=False)

    def _new_chat(self, title: str, bell: bool) -> None:
        self._notice(NEW_CHAT, title, "", bell)

    def _new_message(self, title: str, body: str) -> None:
        self._notice(NEW_MESSAGE, title, body, True)

    def _notice(self, kind: str, title: str, body: str, bell: bool) -> None:
        """Notices arriving together are told together (each is a widget to mount)."""
        starts, ring = self._notices.add(kind, title, body, bell)
        if ring:
            self.app.bell()
        if starts:
            self.set_timer(NOTICE_BATCH_SECS, self._tell_notices)

    def _tell_notices(self) -> None:
        for told in self._notices.drain():
            tell(self, told.message, title=told.title)

    def _recount(self, name: str) -> None:
        """Ask the server's total again soon (once for many events), unless every row of
        the list is here and events keep it exact."""
        if self.desk.lists[name].complete or name in self._recount_due:
            return
        self._recount_due.add(name)
        self.set_timer(RECOUNT_SECS, lambda: self._recount_now(name))

    def _recount_now(self, name: str) -> None:
        self._recount_due.discard(name)
        self.count_list(name)

    def _tick(self) -> None:
        """Every LIST_REFRESH_SECS: waiting times move on, and totals are asked again
        (events may not tell this console about every conversation)."""
        for name in LIST_QUERIES:
            if not self.desk.lists[name].complete:
                self.count_list(name)
        self.refresh_lists(tick=True)

    def _session_over(self, reason: str) -> None:
        if self._over:
            return  # the REST call and the WebSocket may both find out
        self._over = True
        logout = getattr(self.app, "logout", None)
        if callable(logout):
            logout(reason)

    # ------------------------------------------------------------------ drawing

    def schedule_draw(self) -> None:
        """Draw what changed, once for everything that arrives within a frame."""
        if not self._draw_pending:
            self._draw_pending = True
            self.set_timer(FRAME_SECS, self._draw)

    def _draw(self) -> None:
        self._draw_pending = False
        changed, lists_changed, me_changed = self.desk.take_changes()
        for widget in self.query(ConversationList):
            widget.sync(changed, lists_changed)
        if me_changed:
            self.refresh_whoami()
        if any(conv in self.tab_bar for conv in changed):
            self.refresh_tabs(changed)
        if self.active in changed:
            self.refresh_active()

    def refresh_whoami(self) -> None:
        status = self.desk.my_status or "?"
        tenant = self.session.tenant
        line = Text("Steadydesk", style="bold")
        line.append_text(safe_text(f"  {self.desk.me_name} · {tenant} · status: "))
        line.append_text(safe_text(status, "bold"))
        self.query_one("#whoami", Static).update(line, layout=False)

    def refresh_lists(self, tick: bool = False) -> None:
        now = self.clock() if tick else None
        for widget in self.query(ConversationList):
            widget.sync(frozenset(), True, now)

    @property
    def tab_ids(self) -> list[str]:
        """The conversations open in tabs, in the tabs' order."""
        return self.tab_bar.keys()

    def refresh_tabs(self, only: Set[str] | None = None) -> None:
        """Tab labels and marks (of the conversations in ``only``, if given): fields of
        the one tab bar widget, redrawn once for all."""
        for number, conv_id in enumerate(self.tab_bar.keys(), start=1):
            if only is not None and conv_id not in only:
                continue
            conv = self.desk.get(conv_id)
            self.tab_bar.set_label(conv_id, self._tab_label(number, conv))
            self.tab_bar.mark(
                conv_id,
                unread=bool(conv.unread) and conv_id != self.active,
                closed=conv.status == ConversationStatus.CLOSED,
            )

    @staticmethod
    def _tab_label(number: int, conv: Conversation) -> Text:
        """Number and name (unread tabs are marked by colour: a label that changes lays
        the whole screen out again, too costly for 50 tabs in a burst)."""
        label = safe_text(f"{number} " if number <= 9 else "")
        label.append_text(safe_text(conv.title, width=16))
        if conv.status == ConversationStatus.CLOSED:
            label.append(" ✓")
        return label

    def refresh_active(self, log: bool = True) -> None:
        conv = self.desk.get(self.active) if self.active else None
        if log:
            self.query_one(ConversationLog).show(conv, self.desk.me_id)
        self.query_one(VisitorPanel).show(conv, self.desk.me_id)
        typing_line = f"{conv.title} is typing…" if conv and conv.visitor_typing else ""
        if typing_line != self._typing_shown:  # not redrawn on every message
            self._typing_shown = typing_line
            self.query_one("#typing", Static).update(safe_text(typing_line), layout=False)
        self.tools.refresh()
        composer = self.query_one(Composer)
        if conv is None:
            composer.blocked = "Open a conversation to reply (ctrl+g grabs the next waiting one)"
        elif conv.status == ConversationStatus.CLOSED:
            composer.blocked = "This conversation is closed"
        else:
            composer.blocked = ""

    def _mark_read(self) -> None:
        if self.active and self.desk.is_mine(self.desk.get(self.active)):
            seq = self.desk.mark_read(self.active)
            if seq:
                self.client.mark_read(self.active, seq)

    # ------------------------------------------------------------------ tabs

    async def open_tab(self, conv_id: str, focus: bool = True) -> None:
        if conv_id not in self.tab_bar:
            number = len(self.tab_bar) + 1
            self.tab_bar.add_tab(conv_id, self._tab_label(number, self.desk.get(conv_id)))
        self.tab_bar.activate(conv_id)
        self.show_conversation(conv_id)
        if focus:
            self.query_one(Composer).focus_input()

    @on(TabBar.Activated)
    def _tab_activated(self, event: TabBar.Activated) -> None:
        if event.key != self.active:
            self.show_conversation(event.key)

    def show_conversation(self, conv_id: str) -> None:
        composer = self.query_one(Composer)
        leaving = self.active
        if leaving and leaving in self.desk.conversations:
            self.desk.get(leaving).draft = composer.input.value
        self.active = conv_id
        conv = self.desk.get(conv_id)
        composer.visitor_name = clean(conv.visitor.name)
        composer.set_draft(conv.draft)
        composer.note_mode = conv.note_mode
        if self.client.needs_history(conv_id):
            self.client.sync(conv_id)
        self.tools.shown(conv_id)
        self._mark_read()
        self.refresh_active()
        self.refresh_tabs({conv_id} if leaving is None else {conv_id, leaving})  # not all 50
        self.schedule_draw()

    @on(ConversationChosen)
    async def _chosen(self, message: ConversationChosen) -> None:
        await self.open_tab(message.conv)

    # ------------------------------------------------------------------ composer

    def on_composer_submitted(self, message: ComposerSubmitted) -> None:
        if not self.active:
            tell(
                self,
                "Open a conversation first (ctrl+g grabs the next waiting one).",
                severity="warning",
            )
            return
        kind = self.desk.note_kind(self.active)
        if not self.tools.guard_send(message.text, kind):
            self.send_now(self.active, message.text, kind)

    def send_now(self, conv: str, text: str, kind: str) -> None:
        cid = self.client.send(conv, text, kind)
        self.desk.add_pending(conv, cid, text, kind)
        if not self.client.live:
            tell(self, "Not connected: the message will be sent on reconnect.", severity="warning")
        self.refresh_active()

    def on_composer_typing(self, message: ComposerTyping) -> None:
        if self.active and not self.desk.get(self.active).note_mode:
            self.client.typing(self.active, message.on)

    # ------------------------------------------------------------------ actions

    def _try(self, action: Callable[[], None]) -> bool:
        try:
            action()
        except NotConnected:
            tell(self, "Not connected to the server; try again in a moment.", severity="error")
            return False
        return True

    def _need_active(self) -> Conversation | None:
        if not self.active:
            tell(self, "No conversation open.", severity="warning")
            return None
        return self.desk.get(self.active)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(admin=self.is_admin))

    @property
    def is_admin(self) -> bool:
        role = self.client.me.get("role") or self.session.agent.get("role")
        return role == "admin"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.is_admin if action == "admin" else True

    def action_admin(self) -> None:
        """f9 (admins only): the admin screens, over the same login."""
        self.app.push_screen(admin_hub(self.client, self.app, self.session))

    def action_accept_next(self) -> None:
        target = None
        if self.active and self.desk.get(self.active).status == ConversationStatus.QUEUED:
            target = self.active
        else:
            queue = self.desk.lists["queue"].ids
            focused = self.query_one("#queue", ConversationList)
            offered = self.desk.offered()
            if focused.has_focus and focused.highlighted is not None and len(queue):
                target = queue.at(min(focused.highlighted, len(queue) - 1))
            elif offered:
                target = offered[0].id  # what auto-routing chose for me first
            elif len(queue):
                target = queue.at(0)
        if target is None:
            tell(self, "No one is waiting.")
            return
        if self._try(lambda: self.client.accept(target)):
            self._accepting.add(target)
            self.desk.set_taking(target, True)
            self._draw()  # the key's answer, at once: "taking…" on its row

    async def action_next_unread(self) -> None:
        conv = self.desk.next_unread(self.active)
        if conv is None:
            tell(self, "No unread messages.")
            return
        await self.open_tab(conv.id)

    def action_toggle_note(self) -> None:
        conv = self._need_active()
        if conv is not None:
            conv.note_mode = not conv.note_mode
            self.query_one(Composer).note_mode = conv.note_mode

    def action_transfer(self) -> None:
        conv = self._need_active()
        if conv is None:
            return
        if conv.status == ConversationStatus.CLOSED:
            tell(self, "This conversation is closed.", severity="warning")
            return
        self.load_agents(for_transfer=True)

    def _transfer(self, conv_id: str, choice: TransferChoice | None) -> None:
        if choice is None:
            return
        if self._try(
            lambda: self.client.transfer(
                conv_id,
                to_agent=choice.to_agent or None,
                to_department=choice.to_department or None,
                note=choice.note,
            )
        ):
            tell(self, f"Transferring to {choice.label}…")

    def action_close_conversation(self) -> None:
        conv = self._need_active()
        if conv is None or conv.status == ConversationStatus.CLOSED:
            return

        def answered(yes: bool | None, conv_id: str = conv.id) -> None:
            if yes:
                self._try(lambda: self.client.close(conv_id))

        question = safe_text(f"Close the conversation with {conv.title}?")
        self.app.push_screen(ConfirmScreen(question), answered)

    def action_search(self) -> None:
        self.tools.search()

    def action_labels(self) -> None:
        self.tools.labels()

    def action_by_label(self) -> None:
        self.tools.search(by_label=True)

    def action_narrow_lists(self) -> None:
        self.tools.narrow_lists()

    def action_my_canned(self) -> None:
        self.tools.edit_canned()

    def action_earlier(self) -> None:
        self.tools.earlier()

    def _search_done(self, conv_id: str | None) -> None:
        if conv_id:
            self.run_worker(self.open_tab(conv_id), exit_on_error=False)

    def action_status(self) -> None:
        def chosen(state: str | None) -> None:
            if state:
                self.client.set_status(state)

        self.app.push_screen(StatusScreen(self.desk.my_status), chosen)

    def action_refresh(self) -> None:
        self.load_lists()
        if self.active:
            self.client.sync(self.active)

    def action_hide_tab(self) -> None:
        if not self.active or self.active not in self.tab_bar:
            return
        hidden, self.active = self.active, None
        shown = self.tab_bar.remove_tab(hidden)
        if shown is not None:
            self.show_conversation(shown)  # the next tab, as Tabs did
        else:
            self.refresh_active()
        self.refresh_tabs()

    def action_switch_tab(self, number: int) -> None:
        ids = self.tab_bar.keys()
        if 1 <= number <= len(ids) and ids[number - 1] != self.active:
            self.tab_bar.activate(ids[number - 1])
            self.show_conversation(ids[number - 1])

    def action_focus_list(self, name: str) -> None:
        self.query_one(f"#{name}", ConversationList).focus()

    def action_focus_composer(self) -> None:
        self.query_one(Composer).focus_input()
