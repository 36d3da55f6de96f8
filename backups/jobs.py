"""Export jobs of the admin API: ``POST /api/v1/export`` asks, ``GET`` tells and downloads.

A job records who asked for what (and the audit log says so); its file is written as it
is downloaded, from one consistent snapshot taken when the download starts, so any node of
a cluster can serve it and nothing is kept on a node's disk. A job can be downloaded until
it expires (an hour), each download audited. Only the platform operator may ask for
credentials (password hashes, site and API secrets, the visitor-token key): a tenant
admin's token, if stolen, must not yield them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from backups.export import ExportOptions
from server.errors import Forbidden, NotFound
from server.foundation import audit
from server.foundation.validation import iso, parse
from server.ids import new_id
from server.kernel.actors import Actor
from server.kernel.enums import SenderType
from server.storage.guard import TenantScope
from server.storage.models import ExportJob, utcnow

JOB_TTL = dt.timedelta(hours=1)
CONTENT_TYPES = {
    "json": ("application/x-ndjson", "jsonl"),
    "csv": ("application/zip", "zip"),
    "sql": ("application/sql", "sql"),
}


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # "yes" is not a boolean

    format: Literal["json", "csv", "sql"] = "json"
    decrypt: bool = False
    with_credentials: bool = False


def _status(job: ExportJob) -> str:
    if job.status in ("ready", "done") and job.expires_at <= utcnow():
        return "expired"
    return str(job.status)


def job_view(job: ExportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": _status(job),
        "format": job.format,
        "decrypt": job.decrypt,
        "with_credentials": job.with_credentials,
        "requested_by": job.requested_by,
        "created_at": iso(job.created_at),
        "expires_at": iso(job.expires_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "size": job.size,
        "error": job.error or None,
        "download": f"/api/v1/export/{job.id}/download",
    }


def _may_have_credentials(actor: Actor) -> bool:
    return actor.type is SenderType.OPERATOR


def do_create_export_job(actor: Actor, fields: object, ip: str) -> dict[str, Any]:
    request = parse(ExportRequest, fields)
    if request.with_credentials and not _may_have_credentials(actor):
        raise Forbidden("only the platform operator may export credentials")
    scope = TenantScope(actor.tenant_id)
    now = utcnow()
    job = scope.create(
        ExportJob,
        id=new_id(),
        requested_by=audit.actor_label(actor)[:100],
        format=request.format,
        decrypt=request.decrypt,
        with_credentials=request.with_credentials,
        created_at=now,
        expires_at=now + JOB_TTL,
    )
    audit.record(actor, "export.create", job.id, request.model_dump(), ip)
    return job_view(job)


def access_export_job(actor: Actor, job_id: str) -> ExportJob:
    job = TenantScope(actor.tenant_id).get_or_none(ExportJob, ExportJob.id == job_id[:26])
    if job is None:
        raise NotFound("no such export")
    return job


def get_export_job(actor: Actor, job_id: str) -> dict[str, Any]:
    return job_view(access_export_job(actor, job_id))


def do_start_download(actor: Actor, job_id: str, ip: str) -> tuple[ExportOptions, str]:
    """Check the job may be downloaded now by ``actor``; mark it running, audit it. The
    options of the export and the file name to offer."""
    job = access_export_job(actor, job_id)
    if _status(job) == "expired":
        raise NotFound("this export has expired: ask for a new one")
    if job.with_credentials and not _may_have_credentials(actor):
        raise Forbidden("only the platform operator may download credentials")
    scope = TenantScope(actor.tenant_id)
    scope.update(ExportJob, status="running", started_at=utcnow()).where(
        ExportJob.id == job.id
    ).execute()
    audit.record(actor, "export.download", job.id, {"format": job.format}, ip)
    options = ExportOptions(
        tenant=actor.tenant_id,
        format=job.format,
        decrypt=job.decrypt,
        with_credentials=job.with_credentials,
    )
    extension = CONTENT_TYPES[job.format][1]
    return options, f"steadydesk-{actor.tenant_id}-{job.id}.{extension}"


def do_finish_download(tenant_id: str, job_id: str, size: int, error: str = "") -> None:
    TenantScope(tenant_id).update(
        ExportJob,
        status="failed" if error else "done",
        finished_at=utcnow(),
        size=size,
        error=error[:500],
    ).where(ExportJob.id == job_id).execute()
