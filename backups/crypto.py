"""Archives encrypted with a passphrase (``--with-keys``): scrypt, then AES-256-GCM.

Both come from the ``cryptography`` package. The file is a short header, then the
gzip-compressed tar encrypted with GCM's streaming interface, then GCM's tag::

    MAGIC | header length (4 bytes, big-endian) | header (JSON) | ciphertext | tag (16)

The header holds the scrypt parameters and salt, the nonce, and a public summary (when,
which tenant, row counts) so ``backup list`` can show the archive without the passphrase;
it is authenticated as GCM's associated data, so changing it breaks the tag. Decryption
writes to a private temporary file and only its tag check (at the end) makes the result
usable: nothing is restored from bytes that were not authenticated.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from backups.errors import ArchiveDamaged, BackupError
from backups.files import CHUNK_BYTES, Sink, create_private

MAGIC = b"STEADYDESK-ENC1\n"
TAG_BYTES = 16
MAX_HEADER_BYTES = 1 << 20
# OWASP's scrypt profile: 2^17 x 8 x 1 (128 MiB for about half a second), once per archive.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 17, 8, 1
MIN_PASSPHRASE_CHARS = 12


def read_passphrase(path: str | Path) -> bytes:
    """The first line of ``path`` (the passphrase file), without its line break."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise BackupError(f"cannot read the passphrase file {path}: {err.strerror}") from None
    passphrase = text.splitlines()[0] if text else ""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise BackupError(
            f"the passphrase in {path} is shorter than {MIN_PASSPHRASE_CHARS} characters"
        )
    return passphrase.encode("utf-8")


def _key(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


class EncryptingWriter:
    """A write-only stream that encrypts into ``out``; call ``finish()`` to write the tag."""

    def __init__(self, out: Sink, passphrase: bytes, public: dict[str, Any]):
        salt, nonce = os.urandom(16), os.urandom(12)
        header = json.dumps(
            {
                "kdf": {
                    "name": "scrypt",
                    "n": SCRYPT_N,
                    "r": SCRYPT_R,
                    "p": SCRYPT_P,
                    "salt": base64.b64encode(salt).decode(),
                },
                "cipher": "AES-256-GCM",
                "nonce": base64.b64encode(nonce).decode(),
                "public": public,
            },
            sort_keys=True,
        ).encode()
        head = MAGIC + struct.pack(">I", len(header)) + header
        key = _key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        self._out = out
        self._encryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
        self._encryptor.authenticate_additional_data(head)
        out.write(head)

    def write(self, data: bytes) -> int:
        self._out.write(self._encryptor.update(data))
        return len(data)

    def flush(self) -> None:
        flush = getattr(self._out, "flush", None)
        if flush is not None:
            flush()

    def finish(self) -> None:
        self._out.write(self._encryptor.finalize())
        self._out.write(self._encryptor.tag)


def is_encrypted(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def read_header(path: Path) -> tuple[dict[str, Any], bytes]:
    """The parsed header and its raw bytes (the associated data)."""
    damaged = ArchiveDamaged(f"archive {path} is damaged: its encryption header is unreadable")
    with open(path, "rb") as fh:
        head = fh.read(len(MAGIC) + 4)
        if len(head) < len(MAGIC) + 4 or not head.startswith(MAGIC):
            raise damaged
        (length,) = struct.unpack(">I", head[len(MAGIC) :])
        if length > MAX_HEADER_BYTES:
            raise damaged
        raw = fh.read(length)
    try:
        header = json.loads(raw)
        if not isinstance(header, dict):
            raise ValueError
    except ValueError:
        raise damaged from None
    return header, head + raw


def decrypt_to(path: Path, passphrase: bytes, into: Path) -> None:
    """Decrypt ``path`` into the new private file ``into``; ArchiveDamaged when the tag
    does not verify (a flipped byte anywhere, or the wrong passphrase)."""
    header, head = read_header(path)
    try:
        kdf = header["kdf"]
        key = _key(
            passphrase,
            base64.b64decode(kdf["salt"]),
            int(kdf["n"]),
            int(kdf["r"]),
            int(kdf["p"]),
        )
        nonce = base64.b64decode(header["nonce"])
    except (KeyError, TypeError, ValueError) as err:
        raise ArchiveDamaged(f"archive {path} is damaged: bad encryption header ({err})") from None
    total = path.stat().st_size
    body = total - len(head) - TAG_BYTES
    if body < 0:
        raise ArchiveDamaged(f"archive {path} is damaged: it is truncated")
    with open(path, "rb") as fh:
        fh.seek(total - TAG_BYTES)
        tag = fh.read(TAG_BYTES)
        fh.seek(len(head))
        decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(head)
        with create_private(into) as out:
            left = body
            while left:
                chunk = fh.read(min(CHUNK_BYTES, left))
                if not chunk:
                    raise ArchiveDamaged(f"archive {path} is damaged: it is truncated")
                left -= len(chunk)
                out.write(decryptor.update(chunk))
            try:
                out.write(decryptor.finalize())
            except InvalidTag:
                into.unlink()
                raise ArchiveDamaged(
                    f"archive {path} does not decrypt: it is damaged or the passphrase is wrong"
                ) from None
