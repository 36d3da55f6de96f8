"""The TLS certificate and key a node serves with, checked before it starts.

Sanic builds its TLS context only when it starts serving, and a bad pair ends in a
traceback from deep inside it. ``check_tls_pair`` says what is wrong in one sentence:
a file that cannot be read, a file that is not PEM, an encrypted key, a key that does
not belong to the certificate, a certificate that is expired or not yet valid, or one
without a subjectAltName (browsers and TLS clients ignore the common name).
"""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from server.errors import StartupError

SAN_HINT = "e.g. openssl req ... -addext 'subjectAltName=DNS:chat.example.com'"


def _read(label: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise StartupError(f"{label} {path} is not readable: {err.strerror}") from None


def _certificate(path: str, data: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificates(data)[0]
    except ValueError:
        raise StartupError(f"STEADY_TLS_CERT {path} is not a PEM certificate") from None


def _private_key(path: str, data: bytes) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise StartupError(
            f"STEADY_TLS_KEY {path} is encrypted: give the node an unencrypted key "
            "(readable by its user only)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise StartupError(f"STEADY_TLS_KEY {path} is not a PEM private key") from None


def _public_der(key: object) -> bytes:
    public = key.public_key()  # type: ignore[attr-defined]  # every key type has one
    return bytes(
        public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def check_tls_pair(cert_path: str, key_path: str, now: dt.datetime | None = None) -> None:
    """Raise ``StartupError`` with one line when the pair cannot serve TLS."""
    if bool(cert_path) != bool(key_path):
        names = ("STEADY_TLS_CERT", "STEADY_TLS_KEY")
        given, missing = names if cert_path else names[::-1]
        raise StartupError(f"{given} is set but {missing} is not: set both, or neither")
    if not cert_path:
        return
    cert = _certificate(cert_path, _read("STEADY_TLS_CERT", cert_path))
    key = _private_key(key_path, _read("STEADY_TLS_KEY", key_path))
    if _public_der(key) != _public_der(cert):
        raise StartupError(
            f"STEADY_TLS_KEY {key_path} is not the key of the certificate {cert_path}"
        )
    now = now or dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc <= now:
        raise StartupError(
            f"the certificate {cert_path} expired on {_stamp(cert.not_valid_after_utc)}"
        )
    if cert.not_valid_before_utc > now:
        raise StartupError(
            f"the certificate {cert_path} is not valid before "
            f"{_stamp(cert.not_valid_before_utc)} (is the clock right?)"
        )
    try:
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        raise StartupError(
            f"the certificate {cert_path} has no subjectAltName, which TLS clients need "
            f"(the common name is ignored): make one with the host names ({SAN_HINT})"
        ) from None
    # Whatever else the TLS library refuses (an unsupported key size, say), in one line.
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_path, key_path)
    except (ssl.SSLError, OSError) as err:
        reason = getattr(err, "reason", None) or getattr(err, "strerror", None) or str(err)
        raise StartupError(f"TLS cannot use {cert_path} with {key_path}: {reason}") from None
