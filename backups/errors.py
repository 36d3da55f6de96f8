"""Failures of a backup, restore, export or import: one clear line each (the CLI prints
``steadydesk: <message>`` and exits 1; the admin API answers with the code)."""

from __future__ import annotations

from server.errors import SteadyError


class BackupError(SteadyError):
    """Something an operator must fix: a bad path, a missing passphrase, a busy target."""


class ArchiveDamaged(BackupError):
    """The archive's bytes are not what was written (checksums, gzip, tar or AES-GCM)."""


class RestoreRefused(BackupError):
    """A restore that would do harm: a newer schema, a non-empty target without --force."""


class VerificationFailed(BackupError):
    """The restored tables do not match the archive's row counts or checksums."""
