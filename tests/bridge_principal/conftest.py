"""Fixtures of the bridge-principal suite (docs/bridges.md, BRIDGES.md §1): the module's
own tenant, a second one, and the tenant's admin (from tests/support/bridges.py, with
the helpers). The module-scoped ``server`` (tests/conftest.py) runs on both backends."""

from tests.support.bridges import admin_token, other, tenant

__all__ = ["admin_token", "other", "tenant"]
