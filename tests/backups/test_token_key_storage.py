"""Imported visitor-token keys are sealed at rest like the other secrets: ``steadydesk
reencrypt`` re-seals them and keeps their key id until they are, and a key that will not
open is an unknown key (a new visitor session), never a 500."""

from __future__ import annotations

import base64
import secrets

import peewee as pw

from server.admin.token_keys import load_imported_key
from server.security.encryption import parse_keyring
from server.security.tokens import encode_key, token_key_id
from server.storage.guard import TenantScope, cross_tenant
from server.storage.keys import check_key_registry
from server.storage.models import EncryptionKeyUse, TenantTokenKey
from server.storage.rekey import reseal_all
from server.storage.sealed import install_keyring
from tests.storage.conftest import database  # noqa: F401  (the migrated-database fixture)

OLD, NEW = (base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(2))


def _keyring(keys: dict[str, str], current: str) -> None:
    import json

    install_keyring(parse_keyring(json.dumps(keys), current))


def test_reencrypt_reseals_imported_token_keys(database: pw.Database) -> None:  # noqa: F811
    key = secrets.token_bytes(32)
    kid = token_key_id(key)
    try:
        _keyring({"old": OLD}, "old")
        check_key_registry(database)
        TenantScope("moved").create(TenantTokenKey, id=kid, key=encode_key(key))
        assert load_imported_key(kid, "moved") == key

        _keyring({"old": OLD, "new": NEW}, "new")
        report = reseal_all(database)
        assert report.resealed.get("tenant_token_key.key") == 1
        assert report.retired_keys == ["old"]

        _keyring({"new": NEW}, "new")
        assert load_imported_key(kid, "moved") == key
        # A key that does not open (its encryption key is gone) is unknown, not an error.
        _keyring({"other": base64.b64encode(secrets.token_bytes(32)).decode()}, "other")
        assert load_imported_key(kid, "moved") is None
    finally:
        install_keyring(None)
        with cross_tenant():
            TenantTokenKey.delete().execute()
            EncryptionKeyUse.delete().execute()
