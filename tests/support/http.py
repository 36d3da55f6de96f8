"""HTTP clients for the tests, all sharing one TLS context.

httpx builds a TLS context for every client it makes, reading the CA store each time
(15-30 ms of CPU on the test machine, on the event loop): the route sweeps make thousands
of clients, and with a console under test in the same loop a hundred visitors arriving
held its keys up for seconds. Clients made here share one context, made once.
"""

from __future__ import annotations

import ssl
from functools import cache
from typing import Any

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def http_client(base_url: str = "", **options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with the shared TLS context and no proxy from the
    environment (a test talks to this machine only); ``options`` as httpx takes them."""
    options.setdefault("verify", tls_context())
    options.setdefault("trust_env", False)
    return httpx.AsyncClient(base_url=base_url, **options)
