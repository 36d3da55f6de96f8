"""The line above the message box when someone else has the open conversation: it is
read-only here, and writing into it asks first (a team lead may barge in)."""

from __future__ import annotations

from textual.widgets import Static

from tui_agent.untrusted import safe_text


def banner_text(owner: str, admin: bool) -> str:
    then = (
        "writing asks first, then barges in (the visitor is told you joined)"
        if admin
        else "writing asks first; or ask them to transfer it"
    )
    return f"⚠ {owner or 'Another agent'} has this conversation: read-only here; {then}."


class OwnerBanner(Static):
    DEFAULT_CSS = """
    OwnerBanner { height: auto; background: $warning 30%; color: $text; padding: 0 1; }
    OwnerBanner.-hidden { display: none; }
    """

    _shown: tuple[str | None, bool] | None = None

    def show_owner(self, owner: str | None, admin: bool) -> None:
        """``owner``: the other agent's name, or None when the conversation is not theirs.

        Only a change is drawn: the banner's height follows its text, so an update lays the
        whole screen out again (~35 ms with 50 tabs), and this is called on every tab
        switch and every frame that touches the open conversation (issue #22)."""
        if (owner, admin) == self._shown:
            return
        self._shown = (owner, admin)
        self.set_class(owner is None, "-hidden")
        self.update(safe_text(banner_text(owner or "", admin) if owner is not None else ""))
