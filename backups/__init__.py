"""Backups, restore, export and import (issue #15).

Used by the CLI (``steadydesk backup|restore|export|import``), the admin API (export jobs)
and ops (``fab backup``, ``fab restore-drill``). Nothing in the domain packages imports it;
it reads and writes tables through ``server.storage`` and knows nothing of transport.
See docs/backups.md.
"""
