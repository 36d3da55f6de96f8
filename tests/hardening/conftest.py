"""Fixtures of the hardening suite (issue #11): the protocol suite's, reused."""

from __future__ import annotations

from tests.protocol.conftest import chat, demo, other_tenant

__all__ = ["chat", "demo", "other_tenant"]
