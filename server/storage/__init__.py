"""Storage: models, the database proxy, migrations and the tenant guard."""

from __future__ import annotations

from server.config import Settings
from server.storage.database import Store, db, make_database


def open_store(settings: Settings) -> Store:
    """Bind the proxy to the configured database and return the thread-pool runner."""
    database = make_database(
        settings.effective_database_url, max_connections=settings.db_threads + 4
    )
    db.initialize(database)
    return Store(database, settings.db_threads)
