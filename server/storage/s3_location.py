"""Where an S3-compatible attachment store is, from the settings (kept apart from
``s3_blobs`` so that installs without a bucket never load boto3)."""

from __future__ import annotations

from dataclasses import dataclass

from server.config import Settings


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    endpoint: str = ""  # "" = AWS's own endpoint for the region
    region: str = ""
    key_id: str = ""  # "" = boto3's usual chain (environment, instance role)
    secret: str = ""
    prefix: str = ""
    timeout_secs: float = 10.0


def s3_location(settings: Settings) -> S3Location | None:
    """Where attachments go when a bucket is configured (None: it is not)."""
    if not settings.attachment_s3_bucket:
        return None
    return S3Location(
        bucket=settings.attachment_s3_bucket,
        endpoint=settings.attachment_s3_endpoint,
        region=settings.attachment_s3_region,
        key_id=settings.attachment_s3_key_id,
        secret=settings.attachment_s3_secret,
        prefix=settings.attachment_s3_prefix,
        timeout_secs=settings.attachment_s3_timeout_secs,
    )
