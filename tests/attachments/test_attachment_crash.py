"""kill -9 between upload and send, and right after an acked send, loses nothing acked:
an answered upload can still be sent after the crash, and an acked message keeps its
attachment (bytes included); its resend gets the same ack, not "forbidden"."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attachments.test_attachments import fetch, png, upload
from tests.support.clients import WsClient, new_visitor
from tests.support.server import ServerFactory

pytestmark = pytest.mark.timeout(90)


async def test_kill9_between_upload_and_send_loses_nothing_acked(
    server_factory: ServerFactory, backend: str, tmp_path: Path
) -> None:
    """Both stores in two runs: on MariaDB the database store (the default, chunks in the
    message database), on SQLite the directory store (single-node installs), whose file
    must be whole on disk once its upload is answered."""
    files = tmp_path / "files"
    on_disk = backend == "sqlite"
    srv = server_factory({"STEADY_ATTACHMENT_DIR": str(files)} if on_disk else {})
    visitor = await new_visitor(srv)
    first = await upload(srv, visitor["token"], png(40, 30), "before-crash.png")
    assert first.status_code == 201, first.text
    ws = await WsClient.connect(srv.ws_url + "/ws/visitor", label="v1")
    await ws.hello(visitor["token"])
    second = await upload(srv, visitor["token"], png(20, 10), "acked.png")
    assert second.status_code == 201, second.text
    acked = await ws.send_and_ack("with a photo", attachments=[second.json()["id"]])
    served_second = (await fetch(srv, second.json()["url"])).content
    await srv.akill9()  # the next millisecond: nothing flushed on purpose
    assert srv.demo is not None
    assert (files / srv.demo.tenant / first.json()["id"]).is_file() == on_disk
    await ws.wait_closed(timeout=10)
    await srv.arestart()

    ws = await WsClient.connect(srv.ws_url + "/ws/visitor", label="v1-again")
    try:
        await ws.hello(visitor["token"])
        # The acked message still has its attachment, and its bytes.
        again = await ws.send_and_ack("with a photo", cid=acked["cid"],
                                      attachments=[second.json()["id"]])
        assert (again["id"], again["seq"]) == (acked["id"], acked["seq"])
        batch = await ws.sync(acked["conv"])
        (message,) = [m for m in batch["messages"] if m["id"] == acked["id"]]
        (meta,) = message["attachments"]
        assert meta["id"] == second.json()["id"]
        assert (await fetch(srv, meta["url"])).content == served_second
        # The upload answered before the crash is still there to send.
        sent = await ws.send_and_ack("", attachments=[first.json()["id"]])
        live = await ws.recv_until(lambda f: f.get("type") == "message"
                                   and f.get("id") == sent["id"])
        got = await fetch(srv, live["attachments"][0]["url"])
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    finally:
        await ws.close()
