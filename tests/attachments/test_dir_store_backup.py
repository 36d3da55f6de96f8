"""The directory store (``STEADY_ATTACHMENT_DIR``): a backup and an export carry its files'
bytes, so an archive is whole without that directory, and the restored or imported install
serves them from its database. SQLite only: the rows are the same on both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.attachments.test_attachments import upload
from tests.backups.support import query, server_cli
from tests.support.clients import WsClient, new_visitor
from tests.support.server import ServerFactory, ServerProcess

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module", params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def node(
    module_server_factory: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> ServerProcess:
    files = tmp_path_factory.mktemp("attachment-files")
    return module_server_factory({"STEADY_ATTACHMENT_DIR": str(files)})


async def _uploaded_and_sent(node: ServerProcess, data: bytes, name: str) -> str:
    visitor = await new_visitor(node)
    up = await upload(node, visitor["token"], data, name)
    assert up.status_code == 201, up.text
    attachment_id: str = up.json()["id"]
    ws = await WsClient.connect(node.ws_url + "/ws/visitor", label="dir-visitor")
    try:
        await ws.hello(visitor["token"])
        await ws.send_and_ack("see attached", attachments=[attachment_id])
    finally:
        await ws.close()
    assert query(node.database_url, "SELECT storage FROM attachment WHERE id = ?",
                 [attachment_id]) == [("dir",)]
    assert query(node.database_url, "SELECT count(*) FROM attachment_chunk "
                 "WHERE attachment_id = ?", [attachment_id]) == [(0,)]
    return attachment_id


def _chunks(url: str, attachment_id: str) -> bytes:
    rows = query(url, "SELECT data FROM attachment_chunk WHERE attachment_id = ? ORDER BY n",
                 [attachment_id])
    return b"".join(bytes(r[0]) for r in rows)


async def test_a_backup_carries_the_directorys_files_and_restores_them_into_the_database(
    node: ServerProcess, tmp_path: Path
) -> None:
    data = b"%PDF-1.4\n" + b"\x00\xff bytes on disk\n" * 90_000  # > 1 MB: two chunks
    attachment_id = await _uploaded_and_sent(node, data, "scan.pdf")
    archive = (await asyncio.to_thread(server_cli, node, "backup", "--json")).json()["archive"]
    scratch = f"sqlite:///{tmp_path / 'restored.db'}"
    restored = await asyncio.to_thread(
        server_cli, node, "restore", archive, "--into", scratch, "--json")
    assert restored.json()["ok"] is True
    assert _chunks(scratch, attachment_id) == data
    assert query(scratch, "SELECT storage FROM attachment WHERE id = ?",
                 [attachment_id]) == [("db",)]


async def test_an_export_carries_the_directorys_files_and_import_brings_them_back(
    node: ServerProcess, tmp_path: Path
) -> None:
    assert node.demo is not None
    data = b"%PDF-1.4\n\x00\xff exported from the directory\n"
    attachment_id = await _uploaded_and_sent(node, data, "export.pdf")
    out = tmp_path / "export.jsonl"
    await asyncio.to_thread(server_cli, node, "export", "--tenant", node.demo.tenant,
                            "--format", "json", "--out", str(out))
    scratch = f"sqlite:///{tmp_path / 'imported.db'}"
    await asyncio.to_thread(server_cli, node, "import", str(out), "--into", scratch, "--json")
    assert _chunks(scratch, attachment_id) == data
    assert query(scratch, "SELECT storage FROM attachment WHERE id = ?",
                 [attachment_id]) == [("db",)]
