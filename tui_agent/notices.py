"""Notices that arrive together, told together: one per kind and batch.

A burst of hundreds of new chats (or the queue replayed after a login) would raise a
notification each, and each is a widget to mount and lay out: the console stalled. The
screen adds notices here, rings the bell for the first of each kind in a batch (a
message in a chat of yours is not drowned by the new chat that came just before), and
after a short while shows what :meth:`NoticeBatch.drain` makes of the batch. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_agent.untrusted import clean, one_line

NEW_CHAT = "chat"
NEW_MESSAGE = "message"


@dataclass(frozen=True)
class Told:
    message: str
    title: str = ""


class NoticeBatch:
    def __init__(self) -> None:
        self._pending: list[tuple[str, str, str]] = []  # (kind, title, body)
        self._rung: set[str] = set()  # kinds that rang in this batch

    def add(self, kind: str, title: str, body: str = "", bell: bool = True) -> tuple[bool, bool]:
        """(this starts a batch: show it later, ring the bell now)."""
        starts = not self._pending
        self._pending.append((kind, title, body))
        ring = bell and kind not in self._rung
        if ring:
            self._rung.add(kind)
        return starts, ring

    def drain(self) -> list[Told]:
        notices, self._pending, self._rung = self._pending, [], set()
        told = []
        for kind in (NEW_CHAT, NEW_MESSAGE):
            found = [(title, body) for k, title, body in notices if k == kind]
            if len(found) == 1 and kind == NEW_CHAT:
                told.append(Told(f"New chat waiting: {found[0][0]}"))
            elif len(found) == 1:
                title, body = found[0]
                told.append(Told(one_line(clean(body), 80), f"New message from {title}"))
            elif found:
                names = list(dict.fromkeys(one_line(clean(t), 20) for t, _ in found))
                more = "…" if len(names) > 3 else ""
                what = "new chats waiting" if kind == NEW_CHAT else "new messages from"
                told.append(Told(f"{len(found)} {what}: {', '.join(names[:3])}{more}"))
        return told
