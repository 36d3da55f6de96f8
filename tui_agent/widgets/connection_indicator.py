"""The connection light in the top bar: connected, reconnecting (with the next try), resumed."""

from __future__ import annotations

from textual.widgets import Static

from tui_agent.events import ConnectionChanged
from tui_agent.models import ConnectionState
from tui_agent.untrusted import safe_text

STYLES = {
    ConnectionState.OFFLINE: ("○ offline", "dim"),
    ConnectionState.CONNECTING: ("◌ connecting", "yellow"),
    ConnectionState.CONNECTED: ("● connected", "green"),
    ConnectionState.RECONNECTING: ("◌ reconnecting", "bold yellow"),
    ConnectionState.RESUMED: ("● resumed", "green"),
}


class ConnectionIndicator(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = ConnectionState.OFFLINE
        self.show(ConnectionChanged(ConnectionState.OFFLINE))

    def show(self, change: ConnectionChanged) -> None:
        self.state = change.state
        label, style = STYLES[change.state]
        text = safe_text(label, style)
        if change.state is ConnectionState.RECONNECTING and change.retry_in is not None:
            text.append_text(
                safe_text(f" (try {change.attempt}, in {change.retry_in:.1f}s)", "dim")
            )
        for state in ConnectionState:
            self.set_class(state is change.state, f"-{state.value}")
        self.update(text)
