"""AES-GCM sealing of stored text, with a key id in every envelope so keys can rotate.

An envelope is ``enc:v1:<kid>:<base64(nonce + ciphertext + tag)>``. New values are sealed
with the current key; any configured key opens old values. The associated data names the
column, so a sealed value copied into another column does not open there.

Bytes (attachments' chunks) are sealed the same way without base64:
``\x00enc:v1:<kid>:<nonce + ciphertext + tag>``. The leading NUL keeps them apart from
anything an upload may start with (text is refused with NUL bytes; every binary type
allowed starts with its own magic), and the escape below covers any later chunk.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc:v1:"
BYTES_PREFIX = b"\x00" + PREFIX.encode()
NONCE_BYTES = 12
KEY_BYTES = 32
KID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class KeyringError(ValueError):
    """The configured keys are unusable (bad JSON, bad key, unknown current key id)."""


class SealedValueError(RuntimeError):
    """A stored value cannot be opened: its key is not configured, or it was tampered with."""


class Keyring:
    def __init__(self, keys: dict[str, bytes], current: str):
        if current not in keys:
            raise KeyringError(f"the current key id {current!r} is not among the keys")
        self.current = current
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}
        self._prefix = f"{PREFIX}{current}:"
        self._bytes_prefix = BYTES_PREFIX + current.encode() + b":"

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ciphers)

    @property
    def bytes_prefix(self) -> bytes:
        """How bytes sealed with the current key begin."""
        return self._bytes_prefix

    def seal_bytes(self, data: bytes, context: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return (
            self._bytes_prefix + nonce + self._ciphers[self.current].encrypt(nonce, data, context)
        )

    def open_bytes(self, envelope: bytes, context: bytes) -> bytes:
        raw_kid, sep, payload = envelope[len(BYTES_PREFIX) :].partition(b":")
        kid = raw_kid.decode("ascii", "replace")
        cipher = self._ciphers.get(kid)
        if not sep or cipher is None:
            raise SealedValueError(
                f"stored data is sealed with key {kid!r}, which is not configured"
            )
        try:
            return cipher.decrypt(payload[:NONCE_BYTES], payload[NONCE_BYTES:], context)
        except (InvalidTag, ValueError):
            raise SealedValueError(f"bytes sealed with key {kid!r} do not open") from None

    def seal(self, plaintext: str, context: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current].encrypt(nonce, plaintext.encode(), context)
        return self._prefix + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, envelope: str, context: bytes) -> str:
        kid, sep, payload = envelope[len(PREFIX) :].partition(":")
        cipher = self._ciphers.get(kid)
        if not sep or cipher is None:
            raise SealedValueError(
                f"stored data is sealed with key {kid!r}, which is not configured"
            )
        try:
            raw = base64.b64decode(payload, validate=True)
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise SealedValueError(f"a value sealed with key {kid!r} does not open") from None


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def sealed_key_id(value: str) -> str | None:
    if not is_sealed(value):
        return None
    return value[len(PREFIX) :].partition(":")[0]


def parse_keyring(keys_json: str, current: str) -> Keyring | None:
    """The keyring from configuration, None when encryption is off (no keys)."""
    if not keys_json.strip():
        if current:
            raise KeyringError(
                "STEADY_ENCRYPTION_KEY_ID is set but STEADY_ENCRYPTION_KEYS is empty"
            )
        return None
    try:
        raw = json.loads(keys_json)
    except ValueError:
        raise KeyringError(
            'STEADY_ENCRYPTION_KEYS must be JSON: {"kid": "<base64 of 32 bytes>"}'
        ) from None
    if not isinstance(raw, dict) or not raw:
        raise KeyringError(
            'STEADY_ENCRYPTION_KEYS must be a non-empty JSON object {"kid": "<key>"}'
        )
    keys: dict[str, bytes] = {}
    for kid, text in raw.items():
        if not KID_RE.match(kid):
            raise KeyringError(f"key id {kid!r} must be 1-32 of A-Z a-z 0-9 _ . -")
        try:
            key = base64.b64decode(str(text), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise KeyringError(f"key {kid!r} must be base64 of exactly {KEY_BYTES} bytes")
        keys[kid] = key
    if not current:
        if len(keys) > 1:
            raise KeyringError(
                "several encryption keys: set STEADY_ENCRYPTION_KEY_ID to the current one"
            )
        current = next(iter(keys))
    if current not in keys:
        raise KeyringError(f"STEADY_ENCRYPTION_KEY_ID {current!r} is not in STEADY_ENCRYPTION_KEYS")
    return Keyring(keys, current)
