"""REST: a tenant's export for its admins (``/api/v1/export``, backups/jobs.py).

``POST`` asks and answers the job (202); ``GET /export/<id>`` its status;
``GET /export/<id>/download`` streams the file as it is written, from a thread of its own,
through a small bounded queue: a slow client slows the export down instead of filling
memory, and a client that goes away stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from backups import jobs
from backups.export import ExportOptions, write_export
from server.errors import ErrorCode, TooManyRequests
from server.gateway.auth import require_admin
from server.gateway.context import Services
from server.gateway.net import client_ip
from server.gateway.openapi import request_body

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
QUEUED_CHUNKS = 8
DOWNLOADS_PER_NODE = 2  # each holds a database connection and a thread while it streams


class ClientGone(Exception):
    """The download's client went away: the export stops."""


class ChunkQueue:
    """Bytes from the export's thread to the event loop, in bounded chunks."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUED_CHUNKS)
        self._buffer = bytearray()
        self.cancelled = False
        self.size = 0

    def write(self, data: bytes) -> int:  # the export's thread
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= CHUNK_BYTES:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        return len(data)

    def flush(self) -> None:  # zipfile flushes; chunks go out when full or at close
        return

    def _put(self, item: bytes | None) -> None:
        if self.cancelled:
            raise ClientGone("the client went away")
        asyncio.run_coroutine_threadsafe(self.queue.put(item), self._loop).result()

    def close(self) -> None:
        if self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        self._put(None)

    def cancel(self) -> None:  # the loop: unblock a waiting put, fail the next write
        self.cancelled = True
        while not self.queue.empty():
            self.queue.get_nowait()


def build_export_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_export", url_prefix="/api/v1")
    store = services.store
    downloads = asyncio.Semaphore(DOWNLOADS_PER_NODE)

    def ip(request: Request) -> str:
        return client_ip(request, services.settings)

    @bp.post("/export", ctx_access="admin")
    @request_body(jobs.ExportRequest)
    async def post_export(request: Request) -> HTTPResponse:
        """Ask for an export of the tenant's data (audited); download it from the job."""
        actor = await require_admin(services, request)
        job = await store.run(jobs.do_create_export_job, actor, request.json, ip(request))
        return json(job, status=202)

    @bp.get("/export/<job_id:str>", ctx_access="admin")
    async def get_export(request: Request, job_id: str) -> HTTPResponse:
        """An export job's status."""
        actor = await require_admin(services, request)
        return json(await store.run(jobs.get_export_job, actor, job_id))

    @bp.get("/export/<job_id:str>/download", ctx_access="admin")
    async def download_export(request: Request, job_id: str) -> None:
        """The export's file, written as it is sent (audited)."""
        actor = await require_admin(services, request)
        if downloads.locked():
            raise TooManyRequests(
                "this node is busy with other exports: try again shortly",
                code=ErrorCode.RATE_LIMITED,
            )
        async with downloads:
            options, filename = await store.run(jobs.do_start_download, actor, job_id, ip(request))
            await _stream(request, actor.tenant_id, job_id, options, filename)

    async def _stream(
        request: Request, tenant: str, job_id: str, options: ExportOptions, filename: str
    ) -> None:
        loop = asyncio.get_running_loop()
        chunks = ChunkQueue(loop)

        def produce() -> Any:
            with store.database.connection_context():
                try:
                    return write_export(services.settings, store.database, options, chunks)
                finally:
                    with contextlib.suppress(ClientGone):
                        chunks.close()

        content_type = jobs.CONTENT_TYPES[options.format][0]
        response = await request.respond(
            content_type=content_type,
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )
        producer = loop.run_in_executor(None, produce)
        try:
            while (chunk := await chunks.queue.get()) is not None:
                await response.send(chunk)
            await producer
            # Done before the body ends: a client that has it all sees the job done.
            await store.run(jobs.do_finish_download, tenant, job_id, chunks.size, "")
            await response.eof()
        except BaseException as err:
            chunks.cancel()
            error = getattr(err, "message", None) or str(err) or type(err).__name__
            log.warning("export %s of %s stopped: %s", job_id, tenant, error)
            with contextlib.suppress(BaseException):
                await producer
            if request.transport is not None:
                request.transport.close()  # an incomplete body, never a truncated "success"
            await store.run(jobs.do_finish_download, tenant, job_id, chunks.size, error)
            if not isinstance(err, Exception):
                raise

    return bp
