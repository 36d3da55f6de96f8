"""The desk's attachment keys (a mixin of :class:`~tui_agent.screens.main.MainScreen`):
send a file by path, list the open conversation's files to save or open them.

A file is uploaded first (``POST /api/v1/attachments``); only then is a ``send`` naming
it queued, through the client's ordinary pending sends, so delivery works as for text.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from steadywire.server_frames import Attachment
from tui_agent.attachments import downloads_dir, free_path, upload_error
from tui_agent.client import ApiError, SteadydeskClient
from tui_agent.desk import Desk
from tui_agent.models import ConversationStatus
from tui_agent.screens.files import FilesScreen, Opener, open_with_system
from tui_agent.screens.send_file import SendFileScreen
from tui_agent.untrusted import tell

if TYPE_CHECKING:
    from textual.screen import Screen

    Base = Screen[None]
else:
    Base = object


class AttachmentActions(Base):
    client: SteadydeskClient
    desk: Desk
    active: str | None
    opener: Opener = staticmethod(open_with_system)

    def refresh_active(self, log: bool = True) -> None: ...

    def action_send_file(self) -> None:
        if not self.active:
            tell(self, "Open a conversation first.", severity="warning")
            return
        conv = self.desk.get(self.active)
        if conv.status == ConversationStatus.CLOSED:
            tell(self, "This conversation is closed.", severity="warning")
            return

        def chosen(path: Path | None, conv_id: str = conv.id) -> None:
            if path is not None:
                self._send_file(conv_id, path)

        self.app.push_screen(SendFileScreen(conv.title), chosen)

    @work(group="uploads", exit_on_error=False)
    async def _send_file(self, conv_id: str, path: Path) -> None:
        kind = self.desk.note_kind(conv_id)
        placeholder = f"upload:{uuid.uuid4()}"
        self.desk.add_pending(conv_id, placeholder, f"📎 {path.name} (uploading)", kind)
        self.refresh_active()
        try:
            att = await self.client.upload(conv_id, path)
        except (ApiError, OSError) as err:
            reason = upload_error(err.code, err.message) if isinstance(err, ApiError) else str(err)
            self.desk.fail_pending(conv_id, placeholder, reason)
            tell(self, f"Not sent: {reason}", title=path.name, severity="error")
            self.refresh_active()
            return
        conv = self.desk.get(conv_id)
        conv.pending.pop(placeholder, None)
        cid = self.client.send(conv_id, "", kind, attachments=[att.id])
        self.desk.add_pending(conv_id, cid, f"📎 {att.name}", kind)
        self.refresh_active()

    def action_files(self) -> None:
        if not self.active:
            tell(self, "Open a conversation first.", severity="warning")
            return
        conv = self.desk.get(self.active)
        files = [a for m in reversed(conv.ordered()) for a in m.attachments]
        self.app.push_screen(FilesScreen(files, self.save_attachment, self.opener))

    async def save_attachment(self, att: Attachment) -> Path:
        directory = downloads_dir()
        directory.mkdir(parents=True, exist_ok=True)
        return await self.client.download(att, free_path(directory, att.name))
