"""Storage: models, the database proxy, migrations and the tenant guard."""

from __future__ import annotations

from server.config import Settings
from server.storage.database import Store, db, make_database
from server.storage.keys import configure_encryption


def open_store(settings: Settings) -> Store:
    """Bind the proxy to the configured database and return the thread-pool runner."""
    configure_encryption(settings)  # a bad key is a ConfigError before anything is read
    database = make_database(
        settings.effective_database_url, max_connections=settings.db_threads + 4
    )
    db.initialize(database)
    return Store(database, settings.db_threads)
