"""Attachments' bytes in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Cloudflare R2),
for installs of several nodes that would rather not keep files in the database.

One object per attachment, ``<prefix><tenant>/<attachment id>``. boto3 is blocking: every
call here runs in a worker thread, never on the event loop. A store that cannot be reached
raises ``Unavailable`` (HTTP 503, "try again"): an upload then has no row, so nothing
anyone was told is stored can be missing.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from server.errors import Unavailable
from server.storage.s3_location import S3Location

log = logging.getLogger(__name__)

_MISSING = {"NoSuchKey", "404", "NotFound"}
_UNREACHABLE = "the attachment store is unavailable; try again shortly"


class S3Blobs:
    kind = "s3"

    def __init__(self, where: S3Location):
        self.where = where
        # Clients are thread-safe; one per node. Few, quick retries: an upload waits on it.
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=where.endpoint or None,
            region_name=where.region or None,
            aws_access_key_id=where.key_id or None,
            aws_secret_access_key=where.secret or None,
            config=Config(
                connect_timeout=min(where.timeout_secs, 5.0),
                read_timeout=where.timeout_secs,
                retries={"max_attempts": 2, "mode": "standard"},
                # Path-style works with every S3-compatible server (MinIO and Ceph need it
                # unless DNS names each bucket).
                s3={"addressing_style": "path"},
            ),
        )

    def _key(self, tenant_id: str, blob_id: str) -> str:
        # Both are our own ids (tenant slug, ULID): no separators can reach the key.
        if "/" in tenant_id or "/" in blob_id or blob_id.startswith("."):
            raise ValueError("bad blob id")
        return f"{self.where.prefix}{tenant_id}/{blob_id}"

    def put(self, tenant_id: str, blob_id: str, data: bytes) -> None:
        key = self._key(tenant_id, blob_id)
        try:
            # PutObject answers only once the object is stored whole (S3's read-after-write).
            self.client.put_object(Bucket=self.where.bucket, Key=key, Body=data)
        except (BotoCoreError, ClientError) as exc:
            log.warning("attachment store: put %s failed: %s", key, exc)
            raise Unavailable(_UNREACHABLE) from None

    def get(self, tenant_id: str, blob_id: str) -> bytes | None:
        key = self._key(tenant_id, blob_id)
        try:
            found = self.client.get_object(Bucket=self.where.bucket, Key=key)
            data: bytes = found["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            log.warning("attachment store: get %s failed: %s", key, exc)
            raise Unavailable(_UNREACHABLE) from None
        except BotoCoreError as exc:
            log.warning("attachment store: get %s failed: %s", key, exc)
            raise Unavailable(_UNREACHABLE) from None
        return data

    def delete(self, tenant_id: str, blob_id: str) -> None:
        key = self._key(tenant_id, blob_id)
        try:
            self.client.delete_object(Bucket=self.where.bucket, Key=key)  # absent: no error
        except (BotoCoreError, ClientError) as exc:
            log.warning("attachment store: delete %s failed: %s", key, exc)
            raise Unavailable(_UNREACHABLE) from None
