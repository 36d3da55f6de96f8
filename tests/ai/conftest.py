"""Fixtures of the AI-robot server suite (docs/bridges.md, "Kind ai"): the module's own
tenant, a second one, the tenant's admin (tests/support/bridges.py)."""

from tests.support.bridges import admin_token, other, tenant

__all__ = ["admin_token", "other", "tenant"]
