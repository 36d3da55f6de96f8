"""Where a request really came from, and whether it came over HTTPS."""

from __future__ import annotations

import ipaddress

from sanic import Request

from server.config import Settings


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def peer_address(request: Request) -> str:
    return request.conn_info.client_ip if request.conn_info else ""


def client_ip(request: Request, settings: Settings) -> str:
    """The peer, or for a trusted proxy the last address in X-Forwarded-For it did not add."""
    peer = peer_address(request)
    trusted = settings.trusted_proxy_set
    if peer not in trusted:
        return peer
    forwarded = [
        a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()
    ]
    for address in reversed(forwarded):
        if address not in trusted:
            return address
    return peer


def is_secure(request: Request, settings: Settings) -> bool:
    """Plain HTTP is acceptable only on loopback; otherwise TLS or a trusted proxy's https."""
    if settings.tls_enabled:
        return True
    peer = peer_address(request)
    if peer in settings.trusted_proxy_set:
        return request.headers.get("x-forwarded-proto", "").lower() == "https"
    return _is_loopback(peer)


def loopback(request: Request) -> bool:
    return _is_loopback(peer_address(request))


def https_served(request: Request, settings: Settings) -> bool:
    """This response travels over TLS: ours, or a trusted proxy's that says https."""
    if settings.tls_enabled:
        return True
    return (
        peer_address(request) in settings.trusted_proxy_set
        and request.headers.get("x-forwarded-proto", "").lower() == "https"
    )
