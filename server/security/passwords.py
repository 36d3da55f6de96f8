"""Password hashing with argon2id (argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's argon2id profile (19 MiB, 2 passes, 1 lane): still memory-hard, but a burst of
# logins on the database threads costs threads x 19 MiB rather than threads x 64 MiB (the
# library default), which a login flood could otherwise turn into half a gigabyte.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when the account does not exist, so timing does not reveal which emails exist.
_DUMMY_HASH = _hasher.hash("steadydesk-dummy-password")
# Stored for an account made without a password (``agent create --bulk --no-password``):
# no password ever matches it, and checking one takes as long as for an unknown account.
NO_PASSWORD = "!"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if password_hash == NO_PASSWORD:
        password_hash = None
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
