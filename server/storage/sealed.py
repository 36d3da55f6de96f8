"""Columns sealed at rest: peewee fields that encrypt on the way in and open on the way out.

The domain layer never sees an envelope: it reads and writes plain strings. Encryption is
on when a keyring is installed (``install_keyring``, from configuration at start-up);
without one values are stored as they are. Sealed columns cannot be searched or compared
in SQL (``WHERE name = ?`` never matches a sealed value), which is the price of the feature.
"""

from __future__ import annotations

from typing import Any

import peewee as pw

from server.security.encryption import BYTES_PREFIX, PREFIX, Keyring, SealedValueError

# Stored plaintext that starts like an envelope (or like this escape) is written escaped,
# so a visitor typing "enc:v1:..." cannot make its own message unreadable.
RAW_PREFIX = "raw:"
_AMBIGUOUS = (PREFIX, RAW_PREFIX)
# The same for bytes: a chunk after an attachment's first is any slice of the file, so a
# file crafted to hold an envelope's start there is stored escaped, not misread.
RAW_BYTES_PREFIX = b"\x00raw:"
_AMBIGUOUS_BYTES = (BYTES_PREFIX, RAW_BYTES_PREFIX)

_keyring: Keyring | None = None


def install_keyring(keyring: Keyring | None) -> None:
    global _keyring
    _keyring = keyring


def active_keyring() -> Keyring | None:
    return _keyring


class _Sealed:
    """Mixin for text fields; ``context`` (table.column) is bound into every envelope."""

    _context: bytes | None = None

    def _column_context(self) -> bytes:
        if self._context is None:
            field: Any = self
            self._context = f"{field.model._meta.table_name}.{field.column_name}".encode()
        return self._context

    def seal(self, value: str | None) -> str | None:
        if value is None:
            return None
        keyring = _keyring
        if keyring is not None:
            return keyring.seal(value, self._column_context())
        if value.startswith(_AMBIGUOUS):
            return RAW_PREFIX + value
        return value

    def unseal(self, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith(PREFIX):
            keyring = _keyring
            if keyring is None:
                raise SealedValueError(
                    "stored data is encrypted but no STEADY_ENCRYPTION_KEYS are configured"
                )
            return keyring.open(value, self._column_context())
        if value.startswith(RAW_PREFIX):
            return value[len(RAW_PREFIX) :]
        return value


class SealedTextField(_Sealed, pw.TextField):
    def db_value(self, value: Any) -> Any:
        return self.seal(super().db_value(value))

    def python_value(self, value: Any) -> Any:
        return self.unseal(super().python_value(value))


class SealedCharField(_Sealed, pw.CharField):
    """A VARCHAR holding an envelope: size it for the envelope (about 4/3 of the UTF-8
    bytes plus 40), not for the plain text."""

    def db_value(self, value: Any) -> Any:
        return self.seal(super().db_value(value))

    def python_value(self, value: Any) -> Any:
        return self.unseal(super().python_value(value))


class SealedBlobField(pw.BlobField):
    """Bytes sealed at rest (attachments' chunks): ``\x00enc:v1:<kid>:...`` with a keyring,
    as they are without one (escaped when they start like an envelope)."""

    field_type = "LONGBLOB"  # up to 4 GB on MySQL/MariaDB (BLOB stops at 64 KB)
    _context: bytes | None = None

    def _column_context(self) -> bytes:
        if self._context is None:
            self._context = f"{self.model._meta.table_name}.{self.column_name}".encode()
        return self._context

    def seal(self, value: bytes) -> bytes:
        keyring = _keyring
        if keyring is not None:
            return keyring.seal_bytes(value, self._column_context())
        if value.startswith(_AMBIGUOUS_BYTES):
            return RAW_BYTES_PREFIX + value
        return value

    def unseal(self, value: bytes) -> bytes:
        if value.startswith(BYTES_PREFIX):
            keyring = _keyring
            if keyring is None:
                raise SealedValueError(
                    "stored data is encrypted but no STEADY_ENCRYPTION_KEYS are configured"
                )
            return keyring.open_bytes(value, self._column_context())
        if value.startswith(RAW_BYTES_PREFIX):
            return value[len(RAW_BYTES_PREFIX) :]
        return value

    def db_value(self, value: Any) -> Any:
        if isinstance(value, memoryview | bytearray):
            value = bytes(value)
        return super().db_value(self.seal(value) if isinstance(value, bytes) else value)

    def python_value(self, value: Any) -> Any:
        if value is None:
            return None
        return self.unseal(bytes(value))


def is_sealed_field(field: object) -> bool:
    """Whether ``field`` seals its values at rest (backups keep them sealed, exports open
    them only when asked)."""
    return isinstance(field, _Sealed | SealedBlobField)
