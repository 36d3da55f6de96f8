"""Steadydesk's ``fab`` tasks: ``fab --list``; the tasks live in ops/ (docs/operations.md)."""

from ops.tasks import install

__all__ = ["install"]
