"""The ``backup``, ``restore``, ``export`` and ``import`` commands of ``steadydesk``
(registered by server/cli.py; the work is done in backups/): parse, call one action,
print. Failures are one line (``steadydesk: ...``) and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backups.errors import BackupError
from backups.rotation import Retention
from server.config import Settings

Command = Callable[[Settings, argparse.Namespace], int]


def add_parsers(sub: Any) -> None:
    backup = sub.add_parser("backup", help="back up the install (or one tenant); `backup list`")
    backup.add_argument(
        "action",
        nargs="?",
        choices=["list", "keys"],
        help="list: the archives; keys ARCHIVE: the keys a --with-keys archive holds",
    )
    backup.add_argument("archive", nargs="?", help="the archive (for `keys`), or `latest`")
    backup.add_argument("--to", help="directory of the archives (default: <data dir>/backups)")
    backup.add_argument("--tenant", help="only this tenant's data")
    backup.add_argument(
        "--with-keys",
        action="store_true",
        help="include the token and encryption keys; the archive is then encrypted",
    )
    backup.add_argument("--passphrase-file", help="first line: the passphrase (--with-keys)")
    backup.add_argument("--keep-daily", type=int, help="rotation: keep the newest of N days")
    backup.add_argument("--keep-weekly", type=int, help="... of N ISO weeks")
    backup.add_argument("--keep-monthly", type=int, help="... of N months")
    backup.add_argument("--json", action="store_true", help="print one JSON object")
    backup.add_argument("--config", dest="sub_config")

    restore = sub.add_parser("restore", help="restore an archive and verify it")
    restore.add_argument("archive", help="the archive, or `latest` (newest in the default dir)")
    restore.add_argument("--into", help="target database URL (default: the install's own)")
    restore.add_argument("--tenant", help="restore only this tenant; the others stay untouched")
    restore.add_argument("--force", action="store_true", help="replace what the target holds")
    restore.add_argument("--passphrase-file", help="for an encrypted (--with-keys) archive")
    restore.add_argument("--json", action="store_true", help="print one JSON object")
    restore.add_argument("--config", dest="sub_config")

    export = sub.add_parser("export", help="export one tenant's data (JSON, CSV or SQL)")
    export.add_argument("--tenant", required=True)
    export.add_argument("--format", choices=["json", "csv", "sql"], default="json")
    export.add_argument("--out", help="file to write (default: standard output; not for csv)")
    export.add_argument("--decrypt", action="store_true", help="open sealed columns")
    export.add_argument(
        "--with-credentials",
        action="store_true",
        help="include password hashes, site and API secrets, the visitor-token key",
    )
    export.add_argument("--config", dest="sub_config")

    load = sub.add_parser("import", help="import a tenant's export (JSON or CSV)")
    load.add_argument("file")
    load.add_argument("--into", help="target database URL (default: the install's own)")
    load.add_argument("--force", action="store_true", help="replace the tenant if it exists")
    load.add_argument("--json", action="store_true", help="print one JSON object")
    load.add_argument("--config", dest="sub_config")


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=None))


def _passphrase(args: argparse.Namespace) -> bytes | None:
    from backups.crypto import read_passphrase

    return read_passphrase(args.passphrase_file) if args.passphrase_file else None


def _retention(args: argparse.Namespace) -> Retention | None:
    counts = (args.keep_daily, args.keep_weekly, args.keep_monthly)
    if all(c is None for c in counts):
        return None
    if any(c is not None and c < 0 for c in counts):
        raise BackupError("--keep-* take a count of 0 or more")
    return Retention(*(c or 0 for c in counts))


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from backups.backup import BackupOptions, backup_dir

    if args.action == "list":
        from backups.catalog import list_backups

        found = list_backups(backup_dir(settings, args.to))
        if args.json:
            _print_json(found)
        else:
            for item in found:
                who = f"tenant {item['tenant']}" if item["tenant"] else "whole install"
                print(f"{item['created_at']}  {item['size']:>12}  {who:24}  {item['archive']}")
        return 0
    if args.action == "keys":
        from backups.restore import archived_keys

        if not args.archive:
            raise BackupError("backup keys needs the archive: steadydesk backup keys ARCHIVE")
        print(json.dumps(archived_keys(settings, args.archive, _passphrase(args))))
        return 0
    if args.archive:
        raise BackupError(f"unexpected argument {args.archive!r}")
    if args.with_keys != bool(args.passphrase_file):
        raise BackupError("--with-keys and --passphrase-file go together")
    options = BackupOptions(
        to=Path(args.to) if args.to else None,
        tenant=args.tenant,
        passphrase=_passphrase(args),
        keep=_retention(args),
    )
    result = _with_database(settings, lambda db: _run_backup(settings, db, options))
    if args.json:
        _print_json(result)
    else:
        print(f"{result['archive']} ({result['size']} bytes, sha256 {result['sha256']})")
        for path in result["removed"]:
            print(f"removed {path}")
    return 0


def _run_backup(settings: Settings, database: Any, options: Any) -> dict[str, Any]:
    from backups.backup import run_backup

    result = run_backup(settings, database, options, node=f"cli@{settings.node_name}")
    assert result is not None  # only scheduled runs can be claimed elsewhere
    return result


def _with_database(settings: Settings, fn: Callable[[Any], Any]) -> Any:
    """Check, migrate and open the install's database; ``fn`` gets the peewee database."""
    from server.cli import _prepared
    from server.storage import open_store

    _prepared(settings)
    store = open_store(settings)
    try:
        with store.database.connection_context():
            return fn(store.database)
    finally:
        store.close()


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from backups.restore import RestoreOptions, restore
    from server.storage import configure_encryption

    configure_encryption(settings)  # to tell which keys the restored data needs
    report = restore(
        settings,
        RestoreOptions(
            archive=args.archive,
            into=args.into,
            tenant=args.tenant,
            force=args.force,
            passphrase=_passphrase(args),
        ),
    )
    if args.json:
        _print_json(report)
    else:
        for name, table in report["tables"].items():
            print(f"{'ok  ' if table['ok'] else 'DIFF'} {name}: {table['rows']} rows")
    if report.get("missing_keys"):
        print(
            "steadydesk: warning: the restored data is sealed with key id(s) "
            f"{', '.join(report['missing_keys'])}, which STEADY_ENCRYPTION_KEYS lacks",
            file=sys.stderr,
        )
    if not report["ok"]:
        bad = [name for name, t in report["tables"].items() if not t["ok"]]
        print(f"steadydesk: verification failed: {', '.join(bad)} differ", file=sys.stderr)
        return 1
    if not args.json:
        print(f"restored {report['archive']} into {report['target']}: verified")
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from backups.export import ExportOptions, export_to_path, export_to_stream

    options = ExportOptions(
        tenant=args.tenant,
        format=args.format,
        decrypt=args.decrypt,
        with_credentials=args.with_credentials,
    )

    def run(database: Any) -> Any:
        if args.out:
            return export_to_path(settings, database, options, Path(args.out), actor="cli")
        if args.format == "csv":
            raise BackupError("a csv export is a zip file: give --out FILE")
        return export_to_stream(settings, database, options, sys.stdout.buffer, actor="cli")

    summary = _with_database(settings, run)
    if args.out:
        print(json.dumps(summary), file=sys.stderr)
    return 0


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from backups.importer import ImportOptions, import_file
    from server.storage import configure_encryption

    configure_encryption(settings)  # sealed columns are sealed with this install's keys
    report = import_file(
        settings, ImportOptions(path=Path(args.file), into=args.into, force=args.force)
    )
    if args.json:
        _print_json(report)
    else:
        for name, count in report["rows"].items():
            print(f"{name}: {count} rows")
        print(f"imported tenant {report['tenant']} into {report['target']}")
    return 0


COMMANDS: dict[str, Command] = {
    "backup": cmd_backup,
    "restore": cmd_restore,
    "export": cmd_export,
    "import": cmd_import,
}
