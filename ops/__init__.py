"""Steadydesk's operations: the ``fab`` tasks that install, upgrade and watch hosts.

The controller side only: it builds releases here and drives hosts over SSH (Fabric).
It never imports ``server``: what runs on a host is the release installed there, and the
two talk through the ``steadydesk`` command line and HTTP, like any sysadmin would.
Entry point: ``fabfile.py`` at the repository root; see ``docs/operations.md``.
"""
