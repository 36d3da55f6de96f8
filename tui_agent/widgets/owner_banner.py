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

    def show_owner(self, owner: str | None, admin: bool) -> None:
        """``owner``: the other agent's name, or None when the conversation is not theirs."""
        self.set_class(owner is None, "-hidden")
        self.update(safe_text(banner_text(owner or "", admin) if owner is not None else ""))
