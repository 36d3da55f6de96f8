"""``fab backup`` and ``fab restore-drill``: the host's ``steadydesk backup`` and
``steadydesk restore`` (docs/backups.md), run as the service user, their JSON read here.

A drill restores the newest archive into a scratch SQLite database beside the data (an
archive restores onto either backend), reads the verification and removes the scratch:
a backup nobody has restored is a hope.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ops.layout import CURRENT_LINK, DATA_DIR, SERVICE_USER
from ops.release import steadydesk
from ops.remote import CommandFailed, Host, Outcome, StepFailed, changed, unchanged
from ops.rollout import open_host


def _json(host: Host, step: str, output: str) -> Any:
    """The last line of the command's output (logs may come before it on stderr)."""
    lines = [line for line in output.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        raise StepFailed(host.name, step, f"no JSON from steadydesk: {output[-500:]}") from None


@contextmanager
def _service_user_dir(host: Host) -> Iterator[str]:
    """A scratch directory only the service user can read, removed afterwards."""
    path = host.run(f"runuser -u {SERVICE_USER} -- mktemp -d {DATA_DIR}/ops.XXXXXXXX").strip()
    try:
        yield path
    finally:
        host.run(f"rm -rf {shlex.quote(path)}")


def _passphrase_args(host: Host, stage: str, passphrase_file: str | None) -> str:
    if not passphrase_file:
        return ""
    try:
        text = Path(passphrase_file).read_text(encoding="utf-8")
    except OSError as err:
        raise StepFailed(host.name, "passphrase", f"{passphrase_file}: {err.strerror}") from None
    target = f"{stage}/passphrase"
    host.write(target, text, mode=0o600, owner=SERVICE_USER)
    return f" --passphrase-file {target}"


def _summary(rows: dict[str, int]) -> str:
    main = [f"{rows[t]} {t}" for t in ("message", "conversation", "visitor", "agent") if t in rows]
    return ", ".join(main) + f" ({len(rows)} tables)"


def backup(
    host: Host,
    tenant: str | None,
    download: bool,
    to: str | None,
    passphrase_file: str | None,
) -> dict[str, Any]:
    open_host(host)
    made: dict[str, Any] = {}

    def run() -> Outcome:
        args = "backup --json" + (f" --tenant {shlex.quote(tenant)}" if tenant else "")
        with _service_user_dir(host) as stage:
            secret = _passphrase_args(host, stage, passphrase_file)
            args += " --with-keys" + secret if secret else ""
            try:
                output = steadydesk(host, CURRENT_LINK, args)
            except CommandFailed as err:
                raise StepFailed(host.name, "backup", err.output) from None
        made.update(_json(host, "backup", output))
        removed = made.get("removed") or []
        note = f"; rotated away {len(removed)}" if removed else ""
        return changed(
            f"{made['archive']} ({made['size']} bytes, sha256 {made['sha256'][:16]}…): "
            f"{_summary(made.get('rows', {}))}{note}"
        )

    host.step("backup", run)
    if download:
        host.step("download", lambda: _download(host, made, Path(to or "backups") / host.name))
    return made


def _download(host: Host, made: dict[str, Any], directory: Path) -> Outcome:
    """Copy the archive and its sidecar here (0600 in a 0700 directory), checking the hash."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    archive = str(made["archive"])
    local = directory / Path(archive).name
    with host.readable_copy(archive) as remote:
        old_umask = os.umask(0o077)
        try:
            host.connection.get(remote, str(local))
        finally:
            os.umask(old_umask)
    digest = hashlib.sha256()
    with open(local, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != made["sha256"]:
        local.unlink()
        raise StepFailed(host.name, "download", f"{local.name} arrived damaged (sha256 differs)")
    (directory / f"{local.name}.sha256").write_text(f"{made['sha256']}  {local.name}\n")
    os.chmod(directory / f"{local.name}.sha256", 0o600)
    return changed(f"{local} ({local.stat().st_size} bytes, sha256 checked)")


def restore_drill(host: Host, passphrase_file: str | None) -> dict[str, Any]:
    open_host(host)
    report: dict[str, Any] = {}

    def drill() -> Outcome:
        with _service_user_dir(host) as stage:
            secret = _passphrase_args(host, stage, passphrase_file)
            target = f"sqlite:///{stage}/drill.db"
            try:
                output = steadydesk(
                    host, CURRENT_LINK, f"restore latest --into {target} --json{secret}"
                )
            except CommandFailed as err:
                raise StepFailed(host.name, "restore drill", err.output) from None
        report.update(_json(host, "restore drill", output))
        tables = report.get("tables", {})
        bad = [t for t, v in tables.items() if not v.get("ok")]
        if not report.get("ok") or bad:
            raise StepFailed(
                host.name,
                "restore drill",
                f"verification failed for {', '.join(bad) or 'the archive'}",
            )
        rows = {t: int(v.get("rows", 0)) for t, v in tables.items()}
        return unchanged(
            f"{report.get('archive')} restored into a scratch database and verified: "
            f"{_summary(rows)}; scratch removed"
        )

    host.step("restore drill", drill)
    return report
