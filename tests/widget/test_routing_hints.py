"""The widget's routing hints (docs/protocol.md): ``?site=`` on every request and
``?visitor=`` once the visitor is known, the same id across reloads, so nginx can keep a
visitor on one node group during a gray rollout. The server ignores them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.support.server import ServerProcess
from tests.widget.helpers import WidgetPage


def _hints(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_requests_carry_the_site_key_and_the_known_visitor_id(
    widget_server: ServerProcess, widget: WidgetPage
) -> None:
    sessions: list[str] = []
    sockets: list[str] = []
    widget.page.on(
        "request", lambda r: sessions.append(r.url) if "/visitor/session" in r.url else None
    )
    widget.page.on("websocket", lambda ws: sockets.append(ws.url))
    await widget.goto(widget_server.url + "/")
    await widget.open()
    await widget.send("which group am I in?")
    await widget.conversation()
    await widget.wait_delivered(["which group am I in?"])
    visitor = (await widget.storage("chat"))["visitor"]
    assert visitor

    # A first visit has no visitor id yet: only the site; the socket then names the visitor.
    assert _hints(sessions[0]) == {"site": widget.site_key}
    assert sockets and all(
        _hints(url) == {"site": widget.site_key, "visitor": visitor} for url in sockets
    )

    await widget.reload()
    await widget.open()
    await widget.wait_delivered(["which group am I in?"])
    assert _hints(sessions[-1]) == {"site": widget.site_key, "visitor": visitor}
    assert _hints(sockets[-1]) == {"site": widget.site_key, "visitor": visitor}
