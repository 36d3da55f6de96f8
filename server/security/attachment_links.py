"""Short-lived signed URLs for attachments' bytes.

A URL names the tenant, the attachment, the participant it was issued to and its expiry,
and carries an HMAC-SHA256 of all four under a key derived from the install's secret.
Changing any part (another attachment, another participant, a later expiry) breaks the
signature; the route serving the bytes also checks that the participant still may read
the conversation (server/chat/attachments.py), so a URL is no wider than its holder.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote

from server.errors import ErrorCode, SteadyError

_LABEL = b"steadydesk attachment urls v1"
CONTENT_PATH = "/api/v1/attachments/{id}/content"


class ExpiredUrl(SteadyError):
    code, http_status = ErrorCode.EXPIRED_URL, 403


@dataclass(frozen=True, slots=True)
class Grant:
    """What a verified URL allows: this participant may read this attachment."""

    tenant_id: str
    attachment_id: str
    participant: str  # "<sender type>:<id>", e.g. "visitor:01H..."


class AttachmentLinks:
    def __init__(self, secret_key: str, ttl_secs: int):
        self._key = hmac.new(secret_key.encode(), _LABEL, hashlib.sha256).digest()
        self.ttl_secs = ttl_secs

    def _mac(self, tenant_id: str, attachment_id: str, participant: str, expires: int) -> str:
        text = f"{tenant_id}\n{attachment_id}\n{participant}\n{expires}".encode()
        return hmac.new(self._key, text, hashlib.sha256).hexdigest()[:43]

    def url(
        self, tenant_id: str, attachment_id: str, participant: str, now: float | None = None
    ) -> tuple[str, int]:
        """The path-absolute URL (resolved against the server's origin) and its expiry."""
        expires = int(now if now is not None else time.time()) + self.ttl_secs
        mac = self._mac(tenant_id, attachment_id, participant, expires)
        path = CONTENT_PATH.format(id=quote(attachment_id, safe=""))
        query = f"t={quote(tenant_id, safe='')}&p={quote(participant, safe='')}&e={expires}&s={mac}"
        return f"{path}?{query}", expires

    def verify(
        self, attachment_id: str, tenant_id: str, participant: str, expires: str, mac: str
    ) -> Grant:
        try:
            when = int(expires)
        except ValueError:
            raise ExpiredUrl("this attachment URL is not valid") from None
        good = self._mac(tenant_id, attachment_id, participant, when)
        if not hmac.compare_digest(good.encode(), mac.encode()):
            raise ExpiredUrl("this attachment URL is not valid")
        if when < time.time():
            raise ExpiredUrl("this attachment URL has expired: ask for a fresh one")
        return Grant(tenant_id, attachment_id, participant)
