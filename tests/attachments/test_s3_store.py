"""The S3-compatible attachment store against a real S3 HTTP server (moto's, on a spare
port, in this process): uploads land in the bucket (not the database), travel with a
message, come back through the signed URL; the garbage collector deletes unclaimed
objects; and with the bucket down an upload is a clean 503 while nothing acked is lost.

The database backend does not matter here (rows are the same as the other stores'):
SQLite only. One node for the module."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from tests.attachments.test_attachments import fetch, png, upload
from tests.backups.support import query, server_cli
from tests.support.clients import WsClient, cached_login, new_visitor
from tests.support.server import ServerFactory, ServerProcess, free_port

pytestmark = pytest.mark.timeout(60)

BUCKET = "steady-attachments"
PREFIX = "files/"
CREDENTIALS = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}


class LocalS3:
    """moto's S3 server on a port of its own; stop and start it again to play an outage
    (its objects live in this process, so they survive the outage as a real bucket's do)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: ThreadedMotoServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            **CREDENTIALS)

    def object(self, tenant: str, attachment_id: str) -> bytes | None:
        try:
            found = self.client().get_object(Bucket=BUCKET, Key=f"{PREFIX}{tenant}/{attachment_id}")
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "NoSuchKey", exc
            return None
        data: bytes = found["Body"].read()
        return data


@pytest.fixture(scope="module", params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def s3() -> Iterator[LocalS3]:
    local = LocalS3()
    local.start()
    local.client().create_bucket(Bucket=BUCKET)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def node(module_server_factory: ServerFactory, s3: LocalS3) -> ServerProcess:
    return module_server_factory({
        "STEADY_ATTACHMENT_S3_BUCKET": BUCKET,
        "STEADY_ATTACHMENT_S3_ENDPOINT": s3.endpoint,
        "STEADY_ATTACHMENT_S3_REGION": "us-east-1",
        "STEADY_ATTACHMENT_S3_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "STEADY_ATTACHMENT_S3_SECRET": CREDENTIALS["aws_secret_access_key"],
        "STEADY_ATTACHMENT_S3_PREFIX": PREFIX,
        "STEADY_ATTACHMENT_S3_TIMEOUT_SECS": "3",
        "STEADY_ATTACHMENT_GC_SECS": "0.5",
    })


async def _sent_with(node: ServerProcess, visitor: dict[str, Any], ids: list[str]) -> Any:
    ws = await WsClient.connect(node.ws_url + "/ws/visitor", label="s3-visitor")
    try:
        await ws.hello(visitor["token"])
        return await ws.send_and_ack("see attached", attachments=ids)
    finally:
        await ws.close()


async def test_upload_send_and_fetch_through_the_bucket(node: ServerProcess,
                                                        s3: LocalS3) -> None:
    assert node.demo is not None
    visitor = await new_visitor(node)
    up = await upload(node, visitor["token"], png(), "photo.png")
    assert up.status_code == 201, up.text
    attachment = up.json()
    stored = s3.object(node.demo.tenant, attachment["id"])
    assert stored is not None and len(stored) == attachment["size"]
    assert query(node.database_url, "SELECT count(*) FROM attachment_chunk") == [(0,)]
    assert query(node.database_url, "SELECT storage FROM attachment WHERE id = ?",
                 [attachment["id"]]) == [("s3",)]

    ack = await _sent_with(node, visitor, [attachment["id"]])
    agent = await cached_login(node, node.demo.agents[0])
    agent_ws = await WsClient.connect(node.ws_url + "/ws/agent", label="s3-agent")
    try:
        await agent_ws.hello(agent["token"])
        batch = await agent_ws.sync(ack["conv"])
    finally:
        await agent_ws.close()
    (message,) = [m for m in batch["messages"] if m["id"] == ack["id"]]
    (meta,) = message["attachments"]
    got = await fetch(node, meta["url"])
    assert got.status_code == 200, got.text
    assert got.content == stored and got.headers["content-type"] == "image/png"


async def test_unclaimed_objects_are_deleted_by_the_collector(node: ServerProcess,
                                                              s3: LocalS3) -> None:
    assert node.demo is not None
    visitor = await new_visitor(node)
    kept_id = (await upload(node, visitor["token"], png(8, 8), "kept.png")).json()["id"]
    dropped_id = (await upload(node, visitor["token"], png(8, 8), "dropped.png")).json()["id"]
    await _sent_with(node, visitor, [kept_id])
    # Both a day and more old: only the one no message claimed goes.
    query(node.database_url, "UPDATE attachment SET created_ms = 0 WHERE id IN (?, ?)",
          [kept_id, dropped_id])
    deadline = time.monotonic() + 15
    while s3.object(node.demo.tenant, dropped_id) is not None:
        assert time.monotonic() < deadline, node.log_tail()
        await asyncio.sleep(0.2)  # the collector runs every 0.5 s on the lease holder
    assert query(node.database_url, "SELECT id FROM attachment WHERE id IN (?, ?)",
                 [kept_id, dropped_id]) == [(kept_id,)]
    assert s3.object(node.demo.tenant, kept_id) is not None


async def test_a_bucket_outage_is_a_clean_503_and_loses_nothing_acked(
    node: ServerProcess, s3: LocalS3
) -> None:
    visitor = await new_visitor(node)
    up = await upload(node, visitor["token"], png(16, 16), "before.png")
    assert up.status_code == 201, up.text
    await _sent_with(node, visitor, [up.json()["id"]])
    served = (await fetch(node, up.json()["url"])).content
    unclaimed = await upload(node, visitor["token"], png(10, 10), "unclaimed.png")
    unclaimed_id = unclaimed.json()["id"]
    log_before = len(node.log_text())

    s3.stop()
    try:
        # The collector meets the outage: it pauses and keeps the row for its next sweep.
        query(node.database_url, "UPDATE attachment SET created_ms = 0 WHERE id = ?",
              [unclaimed_id])
        await _logged(node, "sweep paused", log_before)
        assert query(node.database_url, "SELECT id FROM attachment WHERE id = ?",
                     [unclaimed_id]) == [(unclaimed_id,)]
        refused = await upload(node, visitor["token"], png(12, 12), "during.png")
        assert refused.status_code == 503, refused.text
        error = refused.json()["error"]
        assert error["code"] == "unavailable" and "try again" in error["message"]
        unreadable = await fetch(node, up.json()["url"])
        assert unreadable.status_code == 503, unreadable.text
        # Text still flows: the chat does not depend on the bucket.
        ack = await _sent_with(node, visitor, [])
        assert ack["seq"] > 0
    finally:
        s3.start()
    # No row names bytes the bucket never got.
    assert query(node.database_url, "SELECT count(*) FROM attachment WHERE name = ?",
                 ["during.png"]) == [(0,)]
    assert (await fetch(node, up.json()["url"])).content == served
    again = await upload(node, visitor["token"], png(12, 12), "after.png")
    assert again.status_code == 201, again.text
    assert node.demo is not None
    deadline = time.monotonic() + 15
    while s3.object(node.demo.tenant, unclaimed_id) is not None:  # swept once it is back
        assert time.monotonic() < deadline, node.log_tail()
        await asyncio.sleep(0.2)
    assert "Traceback" not in node.log_text()[log_before:]


async def _logged(node: ServerProcess, text: str, after: int) -> None:
    deadline = time.monotonic() + 15
    while text not in node.log_text()[after:]:
        assert time.monotonic() < deadline, node.log_tail()
        await asyncio.sleep(0.1)


async def test_a_backup_carries_the_buckets_bytes_and_restores_them_into_the_database(
    node: ServerProcess, s3: LocalS3, tmp_path: Path
) -> None:
    """The archive is whole by itself: the bucket's bytes are in it, and the restored
    install serves them from its database (its rows say "db")."""
    visitor = await new_visitor(node)
    data = b"%PDF-1.4\n" + b"\x00\xff bytes, not text\n" * 90_000  # > 1 MB: two chunks
    up = await upload(node, visitor["token"], data, "scan.pdf")
    assert up.status_code == 201, up.text
    attachment_id = up.json()["id"]
    await _sent_with(node, visitor, [attachment_id])
    archive = (await asyncio.to_thread(server_cli, node, "backup", "--json")).json()["archive"]
    scratch = f"sqlite:///{tmp_path / 'restored.db'}"
    restored = await asyncio.to_thread(
        server_cli, node, "restore", archive, "--into", scratch, "--json")
    assert restored.json()["ok"] is True
    rows = query(scratch, "SELECT n, data FROM attachment_chunk WHERE attachment_id = ? "
                 "ORDER BY n", [attachment_id])
    assert [r[0] for r in rows] == [0, 1]
    assert b"".join(bytes(r[1]) for r in rows) == data
    assert query(scratch, "SELECT storage FROM attachment WHERE id = ?",
                 [attachment_id]) == [("db",)]
    # The running install is untouched: its row still names the bucket.
    assert query(node.database_url, "SELECT storage FROM attachment WHERE id = ?",
                 [attachment_id]) == [("s3",)]
    assert s3.object(node.demo.tenant if node.demo else "", attachment_id) == data


async def test_an_export_carries_the_buckets_bytes_and_import_brings_them_back(
    node: ServerProcess, tmp_path: Path
) -> None:
    assert node.demo is not None
    visitor = await new_visitor(node)
    data = b"%PDF-1.4\n\x00\xff exported from the bucket\n"
    up = await upload(node, visitor["token"], data, "export.pdf")
    assert up.status_code == 201, up.text
    attachment_id = up.json()["id"]
    out = tmp_path / "export.jsonl"
    await asyncio.to_thread(server_cli, node, "export", "--tenant", node.demo.tenant,
                            "--format", "json", "--out", str(out))
    scratch = f"sqlite:///{tmp_path / 'imported.db'}"
    await asyncio.to_thread(server_cli, node, "import", str(out), "--into", scratch, "--json")
    rows = query(scratch, "SELECT data FROM attachment_chunk WHERE attachment_id = ?",
                 [attachment_id])
    assert b"".join(bytes(r[0]) for r in rows) == data
    assert query(scratch, "SELECT storage FROM attachment WHERE id = ?",
                 [attachment_id]) == [("db",)]
