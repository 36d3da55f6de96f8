"""A visitor's attachments reach the chat apps (issue #19): the real server, the real bridge
processes, and local Slack and Telegram that speak the real upload APIs (Slack's external
upload flow, Telegram's sendPhoto/sendDocument)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests.bridges.actions import AGENT_USER, linked_user, thread_texts, visitor
from tests.bridges.conftest import Setup
from tests.bridges.support import eventually
from tests.bridges.test_telegram_bridge import (  # noqa: F401 - tg is a fixture
    AGENT,
    TgSetup,
    link,
    texts,
    tg,
    unique,
)
from tests.support import clients as C
from tests.support.http import http_client
from tests.support.server import ServerProcess

pytestmark = pytest.mark.asyncio(loop_scope="session")
HOSTILE = "<!channel> <b>x & *y*.pdf"  # no "/": the server keeps a name's last part
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 90)).save(out, "PNG")
    return out.getvalue()


async def send_files(
    server: ServerProcess, ws: C.WsClient, token: str, conv: str
) -> list[dict[str, Any]]:
    """The visitor uploads an image and a PDF with a hostile name, sends both; the stored
    bytes of each (what the platform must receive)."""
    async with http_client(base_url=server.url) as http:
        sent: list[dict[str, Any]] = []
        for name, data in (("photo.png", png()), (HOSTILE, MINIMAL_PDF)):
            resp = await http.post(
                "/api/v1/attachments",
                headers={"Authorization": f"Bearer {token}"},
                data={"conv": conv},
                files={"file": (name, data)},
            )
            assert resp.status_code == 201, resp.text
            answer = resp.json()
            answer["bytes"] = (await http.get(answer["url"])).content
            sent.append(answer)
    await ws.send_and_ack(conv=conv, body="see attached", attachments=[a["id"] for a in sent])
    return sent


async def test_visitor_files_are_uploaded_into_the_slack_thread(setup: Setup) -> None:
    ws, session = await visitor(setup)
    conv = (await ws.send_and_ack(body="my order arrived broken"))["conv"]
    root = await eventually(lambda: setup.slack.root_of(conv), what="the thread's root")
    sent = await send_files(setup.server, ws, session["token"], conv)
    files = await eventually(
        lambda: got if len(got := setup.slack.shared_files(root.channel, root.ts)) == 2 else None,
        what="two files in the thread",
    )
    assert [(f.filename, f.data) for f in files] == [(a["name"], a["bytes"]) for a in sent]
    assert [f.title for f in files] == ["photo.png", HOSTILE] == [a["name"] for a in sent]
    methods = [m for m, _ in setup.slack.calls]
    assert methods.count("files.getUploadURLExternal") == 2
    assert "files.completeUploadExternal" in methods
    text = await eventually(
        lambda: next((t for t in thread_texts(setup.slack, conv) if "see attached" in t), None),
        what="the message naming the files",
    )
    assert "📎 photo.png" in text
    assert "&lt;!channel&gt; &lt;b&gt;x &amp; *y*.pdf" in text and "<!channel>" not in text
    await ws.close()


async def test_visitor_files_go_to_the_telegram_topic(tg: TgSetup) -> None:  # noqa: F811
    name = unique("Filer")
    session = await C.new_visitor(tg.server, name=name)
    ws = await C.WsClient.connect(tg.server.ws_url + "/ws/visitor", label="visitor")
    await ws.hello(session["token"])
    conv = (await ws.send_and_ack(body="my order arrived broken"))["conv"]
    topic = await eventually(lambda: tg.telegram.topic_named(name), what="the topic")
    sent = await send_files(tg.server, ws, session["token"], conv)
    uploads = await eventually(
        lambda: got if len(got := tg.telegram.uploads(topic.thread_id)) == 2 else None,
        what="a photo and a document in the topic",
    )
    assert uploads == [
        ("photo", "photo.png", sent[0]["bytes"]),
        ("document", HOSTILE, sent[1]["bytes"]),
    ]
    shown = await eventually(
        lambda: next((t for t in texts(tg.telegram, topic) if "see attached" in t), None),
        what="the message naming the files",
    )
    assert f"📎 {HOSTILE}" in shown  # parsed from escaped HTML: shown as typed
    await ws.close()


async def test_a_file_an_agent_posts_in_slack_reaches_the_visitor(setup: Setup) -> None:
    ws, _session = await visitor(setup)
    conv = (await ws.send_and_ack(body="can you send the manual?"))["conv"]
    root = await eventually(lambda: setup.slack.root_of(conv), what="the thread's root")
    await linked_user(setup)
    posted = setup.slack.user_file_message(
        root.channel, root.ts, AGENT_USER, "manual.pdf", MINIMAL_PDF, text="here it is"
    )
    status, _ = await setup.slack.post_event(
        setup.bridge.events_url, setup.slack.message_event(posted)
    )
    assert status == 200
    got = await ws.recv_until(
        lambda f: f["type"] == "message" and bool(f.get("attachments")), 15, "the manual"
    )
    assert got["body"] == "here it is" and got["sender"]["type"] == "agent"
    (att,) = got["attachments"]
    assert (att["name"], att["type"]) == ("manual.pdf", "application/pdf")
    async with http_client(base_url=setup.server.url) as http:
        fetched = await http.get(att["url"])
    assert fetched.status_code == 200 and fetched.content == MINIMAL_PDF
    await ws.close()


async def test_a_file_an_agent_posts_in_telegram_reaches_the_visitor(
    tg: TgSetup,  # noqa: F811
) -> None:
    name = unique("Manual")
    session = await C.new_visitor(tg.server, name=name)
    ws = await C.WsClient.connect(tg.server.ws_url + "/ws/visitor", label="visitor")
    await ws.hello(session["token"])
    await ws.send_and_ack(body="can you send the manual?")
    topic = await eventually(lambda: tg.telegram.topic_named(name), what="the topic")
    await link(tg)
    tg.telegram.send_document(AGENT, topic.thread_id, "manual.pdf", MINIMAL_PDF, "here it is")
    got = await ws.recv_until(
        lambda f: f["type"] == "message" and bool(f.get("attachments")), 15, "the manual"
    )
    assert got["body"] == "here it is" and got["sender"]["type"] == "agent"
    (att,) = got["attachments"]
    assert (att["name"], att["type"]) == ("manual.pdf", "application/pdf")
    async with http_client(base_url=tg.server.url) as http:
        fetched = await http.get(att["url"])
    assert fetched.status_code == 200 and fetched.content == MINIMAL_PDF
    await ws.close()
