"""Encryption keys at start-up: parse the configured keyring, install it, and refuse to
start when stored data was sealed with a key that is no longer configured."""

from __future__ import annotations

import peewee as pw

from server.config import Settings
from server.errors import ConfigError, StartupError
from server.security.encryption import Keyring, KeyringError, parse_keyring
from server.storage.models import EncryptionKeyUse
from server.storage.sealed import active_keyring, install_keyring


def keyring_from_settings(settings: Settings) -> Keyring | None:
    try:
        return parse_keyring(settings.encryption_keys, settings.encryption_key_id)
    except KeyringError as err:
        raise ConfigError(f"bad configuration: encryption keys: {err}") from None


def configure_encryption(settings: Settings) -> None:
    install_keyring(keyring_from_settings(settings))


def check_key_registry(database: pw.Database) -> None:
    """Every key that ever sealed data must be configured; the current one is recorded."""
    keyring = active_keyring()
    configured = keyring.key_ids if keyring else frozenset()
    with database.connection_context():
        used = {row.kid for row in EncryptionKeyUse.select(EncryptionKeyUse.kid)}
        missing = sorted(used - configured)
        if missing:
            raise StartupError(
                f"stored data is encrypted with key id(s) {', '.join(missing)}, which "
                "STEADY_ENCRYPTION_KEYS does not hold: add the old key(s) back (new data "
                "uses STEADY_ENCRYPTION_KEY_ID)"
            )
        if keyring is not None and keyring.current not in used:
            EncryptionKeyUse.insert(kid=keyring.current).on_conflict_ignore().execute()
