"""Failures of a backup, restore, export or import: one clear line each (the CLI prints
``steadydesk: <message>`` and exits 1; the admin API answers with the code)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

import peewee as pw
import pymysql

from server.errors import SteadyError


class BackupError(SteadyError):
    """Something an operator must fix: a bad path, a missing passphrase, a busy target."""


class ArchiveDamaged(BackupError):
    """The archive's bytes are not what was written (checksums, gzip, tar or AES-GCM)."""


class RestoreRefused(BackupError):
    """A restore that would do harm: a newer schema, a non-empty target without --force."""


class VerificationFailed(BackupError):
    """The restored tables do not match the archive's row counts or checksums."""


@contextlib.contextmanager
def plainly(what: str) -> Iterator[None]:
    """Turn what the disk or a database raises into one line saying what failed: a full
    disk during a backup is an error message, not a traceback."""
    try:
        yield
    except SteadyError:
        raise
    except OSError as err:
        where = f" ({err.filename})" if err.filename else ""
        raise BackupError(f"{what}: {err.strerror or err}{where}") from None
    except (pw.PeeweeException, pymysql.MySQLError, sqlite3.Error) as err:
        detail = err.args[1] if len(err.args) > 1 else (err.args[0] if err.args else err)
        raise BackupError(f"{what}: {detail}") from None
