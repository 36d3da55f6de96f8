"""Attachments end to end over real sockets (docs/protocol.md "Attachments (v1.1)"): upload,
send, receive live and in history, fetch the bytes; and every refusal: hostile files,
other visitors, other tenants, altered and expired URLs. One server per backend."""

from __future__ import annotations

import asyncio
import io
import secrets
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from PIL import Image

from server.security.attachment_links import AttachmentLinks
from tests.admin.conftest import call, signed_headers
from tests.backups.support import query, server_cli
from tests.support.clients import HTTP_TIMEOUT, WsClient, agent_login, cached_login, new_visitor
from tests.support.http import http_client
from tests.support.server import REPO_ROOT, ServerProcess

pytestmark = pytest.mark.timeout(60)


def png(width: int = 64, height: int = 48, **info: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG", **info)
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (32, 32), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Maker"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPS: latitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def huge_png_header(width: int, height: int) -> bytes:
    """A tiny file claiming width x height pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * 3 * 1024
    idat = zlib.compress(row * 1024, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\x00" * (20 * 2**20))
    return out.getvalue()


async def upload(server: ServerProcess, token: str, data: bytes, name: str,
                 conv: str | None = None) -> httpx.Response:
    form = {"conv": conv} if conv else {}
    async with http_client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
        return await http.post("/api/v1/attachments", data=form,
                               files={"file": (name, data, "application/octet-stream")},
                               headers={"authorization": f"Bearer {token}"})


async def fetch(server: ServerProcess, url: str) -> httpx.Response:
    async with http_client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
        return await http.get(url)


def secret_key(server: ServerProcess) -> str:
    return (server.data_dir / "secret_key").read_text().strip()


async def test_upload_send_receive_and_fetch_both_ways(server: ServerProcess) -> None:
    """A visitor's photo (uploaded before its conversation exists) and an agent's file reach
    the other side live, in sync and in REST history, each URL signed for its receiver."""
    assert server.demo is not None
    visitor = await new_visitor(server, name="Pat")
    agent = await cached_login(server, server.demo.agents[0])
    up = await upload(server, visitor["token"], jpeg_with_gps(), "../../etc/photo.JPG")
    assert up.status_code == 201, up.text
    photo = up.json()
    assert photo["type"] == "image/jpeg" and photo["name"] == "photo.JPG"
    assert photo["url"].startswith(f"/api/v1/attachments/{photo['id']}/content?")

    ws = await WsClient.connect(server.ws_url + "/ws/visitor", label="visitor")
    try:
        await ws.hello(visitor["token"])
        ack = await ws.send_and_ack("", attachments=[photo["id"]])
        conv = ack["conv"]
        echo = await ws.recv_until(lambda f: f.get("type") == "message" and f.get("cid")
                                   == ack["cid"])
        assert [a["id"] for a in echo["attachments"]] == [photo["id"]]
        assert "p=visitor" in echo["attachments"][0]["url"]

        # The agent reads it in history, with a URL of its own, and gets the bytes.
        history = await call(server, "GET", f"/api/v1/conversations/{conv}/messages",
                             token=agent["token"])
        assert history.status_code == 200, history.text
        (sent,) = [m for m in history.json()["messages"] if m["id"] == ack["id"]]
        (meta,) = sent["attachments"]
        assert "p=agent" in meta["url"] and meta["size"] == photo["size"]
        got = await fetch(server, meta["url"])
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"
        assert got.headers["content-disposition"].startswith("inline")
        with Image.open(io.BytesIO(got.content)) as image:
            assert not image.getexif(), "EXIF (make, GPS) must be stripped"
        assert b"SpyCam" not in got.content

        # The agent sends a text file; the visitor receives it live, as a download.
        doc = await upload(server, agent["token"], b"order 1234: shipped\n", "notes", conv)
        assert doc.status_code == 201, doc.text
        agent_ws = await WsClient.connect(server.ws_url + "/ws/agent", label="agent")
        try:
            await agent_ws.hello(agent["token"])
            await agent_ws.send_and_ack("here are the notes", conv=conv,
                                        attachments=[doc.json()["id"]])
        finally:
            await agent_ws.close()
        live = await ws.recv_until(lambda f: f.get("type") == "message"
                                   and f.get("body") == "here are the notes")
        (note,) = live["attachments"]
        assert note["name"] == "notes.txt" and note["type"] == "text/plain"
        assert "p=visitor" in note["url"]
        text = await fetch(server, note["url"])
        assert text.status_code == 200 and text.content == b"order 1234: shipped\n"
        assert text.headers["content-disposition"].startswith("attachment")

        # A sync replays both with the visitor's URLs.
        batch = await ws.sync(conv)
        carried = [m for m in batch["messages"] if m.get("attachments")]
        assert len(carried) == 2
        assert all("p=visitor" in m["attachments"][0]["url"] for m in carried)
    finally:
        await ws.close()


async def test_hostile_files_are_refused_or_neutralised(server: ServerProcess) -> None:
    visitor = await new_visitor(server)
    token = visitor["token"]
    # A polyglot: a real PNG with an HTML page appended and in a text chunk.
    html = b"<html><script>alert(document.domain)</script></html>"
    polyglot = png(pnginfo=_text_chunk(html)) + html
    up = await upload(server, token, polyglot, "cat.html")
    assert up.status_code == 201, up.text
    assert up.json()["type"] == "image/png" and up.json()["name"] == "cat.html.png"
    served = await fetch(server, up.json()["url"])
    assert served.status_code == 200 and b"<script" not in served.content
    assert served.headers["content-type"] == "image/png"

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for data, name in ((svg, "logo.svg"), (svg, "logo.txt"), (zip_bomb(), "bomb.zip"),
                       (html, "page.html"), (b"MZ\x90\x00" + b"\x00" * 200, "setup.exe")):
        refused = await upload(server, token, data, name)
        assert refused.status_code == 415, (name, refused.text)
        assert refused.json()["error"]["code"] == "type_not_allowed"

    bomb = huge_png_header(40_000, 40_000)
    assert len(bomb) < 50_000
    refused = await upload(server, token, bomb, "big.png")
    assert refused.status_code == 415 and "pixels" in refused.json()["error"]["message"]

    too_big = await upload(server, token, b"a" * (10 * 2**20 + 1), "big.txt")
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "too_large"


def _text_chunk(text: bytes) -> Any:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("comment", text.decode())
    return info


async def test_other_visitors_tenants_and_altered_or_expired_urls_are_refused(
    server: ServerProcess,
) -> None:
    assert server.demo is not None
    owner, stranger = await new_visitor(server), await new_visitor(server)
    up = await upload(server, owner["token"], png(), "mine.png")
    assert up.status_code == 201, up.text
    mine = up.json()
    ws = await WsClient.connect(server.ws_url + "/ws/visitor", label="owner")
    try:
        await ws.hello(owner["token"])
        conv = (await ws.send_and_ack("see attached", attachments=[mine["id"]]))["conv"]
        # Named again: it belongs to the first message that named it.
        cid = await ws.send_message("again", attachments=[mine["id"]])
        again = await ws.wait_ack(cid)
        assert again["type"] == "error" and again["code"] == "forbidden", again
    finally:
        await ws.close()

    # Another visitor: no fresh URL, no upload into the conversation, cannot name the id.
    denied = await call(server, "GET", f"/api/v1/attachments/{mine['id']}",
                        token=stranger["token"])
    assert denied.status_code == 403, denied.text
    into = await upload(server, stranger["token"], png(), "x.png", conv)
    assert into.status_code == 403, into.text
    theirs = await upload(server, stranger["token"], png(), "theirs.png")
    ws = await WsClient.connect(server.ws_url + "/ws/visitor", label="stranger")
    try:
        await ws.hello(stranger["token"])
        cid = await ws.send_message("", attachments=[mine["id"]])
        stolen = await ws.wait_ack(cid)
        assert stolen["type"] == "error" and stolen["code"] == "forbidden", stolen
        # Its own upload still works after the refusal.
        await ws.send_and_ack("", attachments=[theirs.json()["id"]])
    finally:
        await ws.close()

    # No token, and an agent of another tenant.
    assert (await call(server, "GET", f"/api/v1/attachments/{mine['id']}")).status_code == 401
    other = await _other_tenant_admin(server)
    foreign = await call(server, "GET", f"/api/v1/attachments/{mine['id']}", token=other)
    assert foreign.status_code in (403, 404), foreign.text

    # The owner's URL, altered: another attachment, another participant, later expiry.
    url = mine["url"]
    path = url.split("?")[0]
    args = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    tampered = [
        url.replace(mine["id"], theirs.json()["id"]),
        url.replace(quote(args["p"], safe=""), quote("visitor:" + stranger["visitor_id"])),
        url.replace(f"e={args['e']}", f"e={int(args['e']) + 3600}"),
        url.replace(f"s={args['s']}", "s=" + "0" * len(args["s"])),
        path,
    ]
    assert all(bad != url for bad in tampered)
    for bad in tampered:
        got = await fetch(server, bad)
        assert got.status_code == 403 and got.json()["error"]["code"] == "expired_url", bad
    assert (await fetch(server, url)).status_code == 200

    # Correctly signed with the install's key, but expired.
    links = AttachmentLinks(secret_key(server), 30)
    stale, _ = links.url(args["t"], mine["id"], args["p"], now=time.time() - 60)
    expired = await fetch(server, stale)
    assert expired.status_code == 403 and "expired" in expired.json()["error"]["message"]


def _cli(server: ServerProcess, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO_ROOT,
                          env=server.env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]


async def _other_tenant_admin(server: ServerProcess) -> str:
    tenant = "att-" + secrets.token_hex(3)
    email, password = f"boss@{tenant}.example.com", "other tenant admin"
    _cli(server, "tenant", "create", tenant)
    _cli(server, "agent", "create", "--tenant", tenant, "--email", email, "--password",
         password, "--role", "admin")
    resp = await agent_login(server, email, password, tenant=tenant)
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["token"]
    return token


async def test_backup_and_restore_bring_attachments_back(
    server: ServerProcess, tmp_path: Path
) -> None:
    """The bytes (binary, in the database store) are in a backup and a restore returns
    them exactly."""
    visitor = await new_visitor(server)
    up = await upload(server, visitor["token"], png(), "keep.png")
    assert up.status_code == 201, up.text
    ws = await WsClient.connect(server.ws_url + "/ws/visitor", label="keeper")
    try:
        await ws.hello(visitor["token"])
        await ws.send_and_ack("", attachments=[up.json()["id"]])
    finally:
        await ws.close()
    served = (await fetch(server, up.json()["url"])).content
    archive = (await asyncio.to_thread(server_cli, server, "backup", "--json")).json()["archive"]
    scratch = f"sqlite:///{tmp_path / 'scratch.db'}"
    restored = await asyncio.to_thread(
        server_cli, server, "restore", archive, "--into", scratch, "--json"
    )
    assert restored.json()["ok"] is True
    rows = query(scratch, "SELECT data FROM attachment_chunk WHERE attachment_id = ? ORDER BY n",
                 [up.json()["id"]])
    assert b"".join(bytes(r[0]) for r in rows) == served
    (meta,) = query(scratch, "SELECT message_id, mime FROM attachment WHERE id = ?",
                    [up.json()["id"]])
    assert meta[0] and meta[1] == "image/png"


async def test_a_tenant_backend_uploads_with_a_signed_request(server: ServerProcess) -> None:
    """An admin API key (signed request, body included in the signature) uploads into a
    conversation; its URL works for it; a tampered body is refused."""
    assert server.demo is not None
    visitor = await new_visitor(server)
    ws = await WsClient.connect(server.ws_url + "/ws/visitor", label="signed")
    try:
        await ws.hello(visitor["token"])
        conv = (await ws.send_and_ack("hi"))["conv"]
    finally:
        await ws.close()
    request = httpx.Request("POST", server.url + "/api/v1/attachments", data={"conv": conv},
                            files={"file": ("invoice.pdf", b"%PDF-1.4\n%%EOF\n", "x/y")})
    body = request.read()
    headers = {"content-type": request.headers["content-type"],
               **signed_headers(server.demo.api_key, server.demo.api_secret, "POST",
                                "/api/v1/attachments", body)}
    async with http_client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
        made = await http.post("/api/v1/attachments", content=body, headers=headers)
        assert made.status_code == 201, made.text
        assert made.json()["type"] == "application/pdf"
        got = await http.get(made.json()["url"])
        assert got.status_code == 200 and got.content == b"%PDF-1.4\n%%EOF\n"
        assert got.headers["content-disposition"].startswith("attachment")
        forged = await http.post("/api/v1/attachments", content=body.replace(b"EOF", b"EOG"),
                                 headers={**headers, **signed_headers(
                                     server.demo.api_key, server.demo.api_secret, "POST",
                                     "/api/v1/attachments", body)})
        assert forged.status_code == 401, forged.text
        unknown = await http.post("/api/v1/attachments", content=body,
                                  headers={**headers, "X-Steady-Key": "no-such-key"})
        assert unknown.status_code == 401, unknown.text
        assert unknown.json()["error"]["code"] == "bad_signature"


@pytest.mark.parametrize("fmt", ["json", "csv"])
async def test_exports_carry_attachments_and_import_brings_them_back(
    server: ServerProcess, tmp_path: Path, fmt: str
) -> None:
    assert server.demo is not None
    visitor = await new_visitor(server)
    data = b"\x00binary\xff and text\n" * 100  # not UTF-8: must travel as bytes
    up = await upload(server, visitor["token"], b"%PDF-1.4\n" + data, "scan.pdf")
    assert up.status_code == 201, up.text
    out = tmp_path / f"export.{'jsonl' if fmt == 'json' else 'zip'}"
    await asyncio.to_thread(server_cli, server, "export", "--tenant", server.demo.tenant,
                            "--format", fmt, "--out", str(out))
    scratch = f"sqlite:///{tmp_path / 'imported.db'}"
    await asyncio.to_thread(server_cli, server, "import", str(out), "--into", scratch, "--json")
    rows = query(scratch, "SELECT data FROM attachment_chunk WHERE attachment_id = ?",
                 [up.json()["id"]])
    assert b"".join(bytes(r[0]) for r in rows) == b"%PDF-1.4\n" + data


async def test_a_bridge_uploads_and_sends_as_its_linked_agent(server: ServerProcess) -> None:
    """A bridge uploads naming the agent it acts as, then sends as that agent; without
    ``as`` (or as an agent not linked to it) the upload is refused."""
    assert server.demo is not None
    admin = (await cached_login(server, server.demo.admin))["token"]
    agent = await cached_login(server, server.demo.agents[1])
    bridge = await call(server, "POST", "/api/v1/bridges", token=admin,
                        body={"kind": "slack", "name": "files " + secrets.token_hex(3)})
    assert bridge.status_code == 201, bridge.text
    token = bridge.json()["token"]
    code = await call(server, "POST", "/api/v1/me/link-code", token=agent["token"])
    linked = await call(server, "POST", "/api/v1/bridges/links", token=token,
                        body={"code": code.json()["code"],
                              "external_user": "T1:U" + secrets.token_hex(3)})
    assert linked.status_code == 200, linked.text
    server_agent_not_linked = (await cached_login(server, server.demo.agents[0]))["agent"]["id"]
    visitor = await new_visitor(server)
    ws = await WsClient.connect(server.ws_url + "/ws/visitor", label="bridged")
    try:
        await ws.hello(visitor["token"])
        conv = (await ws.send_and_ack("can you send the form?"))["conv"]
        refused = await upload(server, token, b"form\n", "form.txt", conv)
        assert refused.status_code == 400, refused.text  # no "as"
        async with http_client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
            stranger = await http.post("/api/v1/attachments",
                                       data={"conv": conv, "as": server_agent_not_linked},
                                       files={"file": ("form.txt", b"form\n", "text/plain")},
                                       headers={"authorization": f"Bearer {token}"})
        assert stranger.status_code == 403, stranger.text
        async with http_client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
            made = await http.post("/api/v1/attachments",
                                   data={"conv": conv, "as": agent["agent"]["id"]},
                                   files={"file": ("form.txt", b"form\n", "text/plain")},
                                   headers={"authorization": f"Bearer {token}"})
        assert made.status_code == 201, made.text
        bridge_ws = await WsClient.connect(server.ws_url + "/ws/agent", label="bridge")
        try:
            await bridge_ws.hello(token)
            await bridge_ws.send_and_ack("here it is", conv=conv, attachments=[made.json()["id"]],
                                         **{"as": agent["agent"]["id"]})
        finally:
            await bridge_ws.close()
        live = await ws.recv_until(lambda f: f.get("type") == "message"
                                   and f.get("body") == "here it is")
        assert live["attachments"][0]["name"] == "form.txt"
        assert (await fetch(server, live["attachments"][0]["url"])).content == b"form\n"
    finally:
        await ws.close()


async def test_a_private_notes_attachment_is_not_the_visitors(server: ServerProcess) -> None:
    assert server.demo is not None
    visitor = await new_visitor(server)
    agent = await cached_login(server, server.demo.agents[0])
    ws = await WsClient.connect(server.ws_url + "/ws/visitor", label="noted")
    try:
        await ws.hello(visitor["token"])
        conv = (await ws.send_and_ack("hello"))["conv"]
    finally:
        await ws.close()
    made = await upload(server, agent["token"], b"internal only\n", "internal.txt", conv)
    assert made.status_code == 201, made.text
    agent_ws = await WsClient.connect(server.ws_url + "/ws/agent", label="noter")
    try:
        await agent_ws.hello(agent["token"])
        await agent_ws.send_and_ack("see file", conv=conv, kind="note",
                                    attachments=[made.json()["id"]])
    finally:
        await agent_ws.close()
    denied = await call(server, "GET", f"/api/v1/attachments/{made.json()['id']}",
                        token=visitor["token"])
    assert denied.status_code == 403, denied.text
    # Even a validly signed URL for the visitor (made with the install's key) is refused.
    links = AttachmentLinks(secret_key(server), 60)
    url, _ = links.url(server.demo.tenant, made.json()["id"], "visitor:" + visitor["visitor_id"])
    assert (await fetch(server, url)).status_code == 403
    mine = await call(server, "GET", f"/api/v1/attachments/{made.json()['id']}",
                      token=agent["token"])
    assert mine.status_code == 200 and (await fetch(server, mine.json()["url"])).status_code == 200


async def test_the_size_limit_is_the_tenants_setting(server: ServerProcess) -> None:
    assert server.demo is not None
    admin = (await cached_login(server, server.demo.admin))["token"]
    visitor = await new_visitor(server)
    lowered = await call(server, "PUT", "/api/v1/settings", token=admin,
                         body={"limits": {"attachment_max_bytes": 2048}})
    assert lowered.status_code == 200, lowered.text
    try:
        refused = await upload(server, visitor["token"], b"x" * 3000, "big.txt")
        assert refused.status_code == 413 and refused.json()["error"]["code"] == "too_large"
        fits = await upload(server, visitor["token"], b"x" * 2000, "small.txt")
        assert fits.status_code == 201, fits.text
    finally:
        await call(server, "PUT", "/api/v1/settings", token=admin,
                   body={"limits": {"attachment_max_bytes": 10 * 2**20}})
