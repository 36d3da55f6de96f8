"""Steadydesk agent console: a Textual client of the wire protocol (shared/PROTOCOL.md).

It never imports ``server``: everything it knows about the server comes over HTTP and
the agent WebSocket, through the one service object in :mod:`tui_agent.client`.
"""

__version__ = "0.1.0"
CLIENT_NAME = f"tui_agent/{__version__}"
