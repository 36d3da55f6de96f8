"""Nothing from the wire reaches the page as markup but the server's sanitised links."""

from __future__ import annotations

import json
import uuid

from tests.support.clients import Clients
from tests.support.server import ServerProcess
from tests.widget.helpers import WidgetPage, accept

PAYLOADS = [
    '<img src=x onerror="window.__xss=1;alert(1)">',
    "<script>window.__xss=2;alert(2)</script>",
    '<a href="javascript:window.__xss=3;alert(3)">click me</a>',
    "javascript:alert(4)",
    '<svg onload="window.__xss=5;alert(5)"></svg>',
    '"><iframe src="javascript:alert(6)"></iframe>',
    "<style>*{display:none!important}</style>",
    '<a href="https://ok.example/" onclick="window.__xss=8;alert(8)">ok</a>',
    "[x](javascript:alert(9)) www.example.com/<b>bold</b>?q=\"'><img src=y onerror=alert(10)>",
    "&lt;img src=x onerror=alert(11)&gt; &amp; \u202eevil",
]

# Elements that must never appear in the message list, and every link's target.
INJECTED_JS = """
const log = root.querySelector('.log');
return {
  bad: [...log.querySelectorAll('img, script, iframe, svg, style, object, embed, form, input, b')]
    .map((e) => e.outerHTML),
  handlers: [...log.querySelectorAll('*')].flatMap((e) => [...e.attributes]
    .filter((a) => a.name.startsWith('on') || a.name === 'style').map((a) => a.name)),
  links: [...log.querySelectorAll('a')].map((a) => [a.getAttribute('href'), a.target, a.rel]),
  xss: window.__xss === undefined ? null : window.__xss,
};
"""


async def assert_clean(widget: WidgetPage) -> dict[str, object]:
    found = await widget.shadow_eval(INJECTED_JS)
    assert found["bad"] == [], found
    assert found["handlers"] == [], found
    assert found["xss"] is None, found
    for href, target, rel in found["links"]:
        assert href.startswith(("https://", "http://", "mailto:")), found["links"]
        assert target == "_blank" and "noopener" in rel, found["links"]
    assert widget.dialogs == []
    return dict(found)


async def test_xss_in_visitor_and_agent_messages_never_runs(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    t = uuid.uuid4().hex[:6]
    agent = await clients.agent(widget_server)
    await widget.goto(widget_server.url + "/")
    await widget.open()
    await widget.send(f"start {t}")
    conv = await widget.conversation()
    await accept(agent, conv)

    for payload in PAYLOADS:
        await widget.send(payload)
        await agent.send_and_ack(payload, conv)
    await widget.wait_delivered(PAYLOADS)
    await widget.wait_log(
        f"{json.dumps(PAYLOADS)}.every((p) => items.some((i) => i.text === p"
        " && i.cls.includes('their')))"
    )

    # Shown as the very text that was typed, twice each (visitor's and agent's), and
    # the only links are the server's: https://ok.example/ and www.example.com.
    texts = [i["text"] for i in await widget.log() if "msg" in i["cls"]]
    for payload in PAYLOADS:
        assert texts.count(payload) == 2, payload
    found = await assert_clean(widget)
    hrefs = {href for href, _, _ in found["links"]}  # type: ignore[attr-defined]
    assert hrefs == {"https://ok.example/", "https://www.example.com/"}


async def test_markup_forged_on_the_wire_is_rebuilt_from_an_allow_list(
    widget_server: ServerProcess, widget: WidgetPage
) -> None:
    """Defence in depth: even an `html` the server would never send (a compromised proxy,
    a bug) cannot run script or style the page; only plain links survive."""
    forged_html = (
        '<img src=x onerror="window.__xss=20;alert(20)">safe'
        '<a href="javascript:window.__xss=21">js link</a>'
        '<a href=" javascript:alert(22)">spaced</a>'
        '<a href="https://fine.example/" onclick="window.__xss=23" style="color:red">fine</a>'
        "<script>window.__xss=24</script><b onmouseover=alert(25)>bold</b>"
        '<svg><a href="https://svg.example/">svg link</a></svg>'
    )

    async def inject(route):  # type: ignore[no-untyped-def]
        server = route.connect_to_server()
        route.on_message(lambda m: server.send(m))

        def from_server(message: str | bytes) -> None:
            route.send(message)
            frame = json.loads(message)
            if frame.get("type") == "ack":
                forged = {
                    "type": "message",
                    "conv": frame["conv"],
                    "id": "forged",
                    "seq": 10_000,
                    "ts": "2026-01-01T00:00:00.000Z",
                    "kind": "text",
                    "body": "forged",
                    "html": forged_html,
                    "cid": None,
                    "sender": {"type": "agent", "id": "x", "name": "<img src=x onerror=alert(26)>"},
                }
                route.send(json.dumps(forged))

        server.on_message(from_server)

    await widget.page.route_web_socket("**/ws/visitor*", inject)
    await widget.goto(widget_server.url + "/")
    await widget.open()
    await widget.send("trigger")
    await widget.wait_text("fine")
    # Parsing the forged markup in the inert template makes a page with a CSP report the
    # handler and style attributes it would have blocked; nothing else may be logged.
    widget.errors[:] = [e for e in widget.errors if "Content Security Policy" not in e]
    forged = widget.page.locator(".msg.their").last
    assert await forged.locator(".bubble").text_content() == "safejs linkspacedfinebold"
    assert await forged.locator(".who").text_content() == "<img src=x onerror=alert(26)>"
    found = await assert_clean(widget)
    assert [href for href, _, _ in found["links"]] == ["https://fine.example/"]  # type: ignore[attr-defined]
