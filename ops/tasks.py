"""The ``fab`` tasks (``fab --list``). Each parses its options, runs one procedure on each
host given with ``-H``, and turns a failure into one line naming the host and the step."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from fabric import Connection, task
from invoke.context import Context
from invoke.exceptions import Exit

from ops import backup as backups
from ops import health, rollout
from ops.build import BuildFailed
from ops.first_tenant import Credentials
from ops.health import HostHealth
from ops.install import Installer, InstallOptions
from ops.layout import node_name
from ops.nginx import SAFE_KEY
from ops.remote import Host, StepFailed

T = TypeVar("T")


def _host(c: Context, task_name: str) -> Host:
    if not isinstance(c, Connection):
        raise Exit(
            f"fab {task_name}: which host? Give one with -H, e.g. fab -H root@host {task_name}"
        )
    return Host(c)


def _guarded(c: Context, task_name: str, procedure: Callable[[Host], T]) -> T:
    host = _host(c, task_name)
    try:
        return procedure(host)
    except StepFailed as err:
        raise Exit(f"fab {task_name}: {err}", code=1) from None
    except BuildFailed as err:
        raise Exit(f"fab {task_name}: building the release failed: {err}", code=1) from None
    except KeyboardInterrupt:
        raise Exit(f"fab {task_name}: interrupted on {host.name}", code=130) from None
    finally:
        host.close()


def _int(value: Any, name: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Exit(f"--{name} must be a whole number (got {value!r})", code=2) from None
    if not low <= number <= high:
        raise Exit(f"--{name} must be between {low} and {high} (got {number})", code=2)
    return number


def _print_credentials(host: Host, creds: Credentials) -> None:
    line = "=" * 78
    what = f"{len(host.changes)} step(s) changed something" if host.changes else "nothing changed"
    print(line)
    print(f" Steadydesk on {host.name}: {what}")
    print(f"   URL:          {creds.url}")
    print(f"   tenant:       {creds.tenant} ({creds.mode})")
    if creds.admin_password:
        print(f"   admin login:  {creds.admin_email} / {creds.admin_password}")
        print("                 (shown this once: store it now)")
    else:
        print(f"   admin login:  {creds.admin_email} (password shown by the first install)")
    if creds.operator_password:
        print(f"   operator:     {creds.operator_email} / {creds.operator_password}")
    if creds.site_key:
        print(
            f'   widget:       <script src="{creds.url}widget.js" data-site="{creds.site_key}"'
            " async></script>"
        )
    server = creds.url.rstrip("/")
    print(f"   console:      steadydesk-agent --server {server} --tenant {creds.tenant}")
    if creds.tls_kind == "self-signed":
        print("   certificate:  self-signed (browsers warn; give --domain to get Let's Encrypt);")
        cert = "/etc/steadydesk/tls/selfsigned.crt"
        print(f"                 consoles: SSL_CERT_FILE=<a copy of {cert}>")
    for note in creds.notes:
        print(f"   note:         {note}")
    print(line)
    sys.stdout.flush()


@task(
    help={
        "domain": "public name; gets a Let's Encrypt certificate when it resolves to the host",
        "nodes": "node processes per group (default 2, or as installed)",
        "tenant": "the first tenant's id (default: default)",
        "selfhost": "one company's install (the default)",
        "saas": "many tenants and a platform operator",
        "port": "HTTPS port nginx listens on (default 443, or as installed)",
        "ref": "git ref of this repository to install (default HEAD)",
        "admin-email": "the first admin's login (default admin@<domain or localhost>)",
    }
)
def install(
    c: Context,
    domain: str | None = None,
    # Numbers arrive as strings and are checked here: invoke's own int parsing ends a
    # typo ("--nodes x") in a traceback.
    nodes: Any = None,
    tenant: str | None = None,
    selfhost: bool = False,
    saas: bool = False,
    port: Any = None,
    ref: str = "HEAD",
    admin_email: str | None = None,
) -> None:
    """Install on a bare Debian 12 / Ubuntu 22.04 or 24.04 host; prints the URL and logins."""
    if selfhost and saas:
        raise Exit("fab install: --selfhost or --saas, not both", code=2)
    options = InstallOptions(
        domain=domain,
        nodes=_int(nodes, "nodes", 1, 40),
        tenant=tenant,
        mode="SaaS" if saas else ("SelfHosted" if selfhost else None),
        https_port=_int(port, "port", 1, 65535),
        ref=ref,
        admin_email=admin_email,
    )

    def procedure(host: Host) -> None:
        creds = Installer(host, options).run()
        _print_credentials(host, creds)

    _guarded(c, "install", procedure)


def _tenants(value: str | None) -> list[str]:
    tenants = [t.strip() for t in (value or "").split(",") if t.strip()]
    for tenant in tenants:
        if not SAFE_KEY.match(tenant):
            raise Exit(f"not a tenant id: {tenant!r}", code=2)
    return tenants


@task(
    help={
        "ref": "git ref of this repository to deploy (a branch, tag or commit)",
        "gray": "percent of visitors (by a stable hash) sent to the new release; "
        "without it everyone moves at once",
        "pin-old": "tenants kept on the old release (comma-separated)",
        "pin-new": "tenants sent to the new release (comma-separated)",
    }
)
def deploy(
    c: Context,
    ref: str,
    gray: Any = None,
    pin_old: str | None = None,
    pin_new: str | None = None,
) -> None:
    """Put a release on the idle node group; with --gray send it a share of visitors."""
    share = None
    if gray is not None:
        try:
            share = float(gray)
        except ValueError:
            raise Exit(f"--gray must be a percentage (got {gray!r})", code=2) from None
        if not 0 <= share <= 100:
            raise Exit(f"--gray must be between 0 and 100 (got {share:g})", code=2)
    old, new = _tenants(pin_old), _tenants(pin_new)
    if set(old) & set(new):
        raise Exit("a tenant cannot be pinned to both releases", code=2)
    if (old or new) and share is None:
        raise Exit("--pin-old and --pin-new only make sense with --gray", code=2)
    _guarded(c, "deploy", lambda host: rollout.deploy(host, ref, share, old, new))


@task
def promote(c: Context) -> None:
    """Move everyone to the gray release; the old group drains (clients resume, close 1012)."""
    _guarded(c, "promote", rollout.promote)


@task
def rollback(c: Context) -> None:
    """Move everyone back: ends a gray rollout, or returns to the release before the last."""
    _guarded(c, "rollback", rollout.rollback)


@task
def restart(c: Context) -> None:
    """Restart every node one at a time, each healthy before the next (rolling)."""
    _guarded(c, "restart", rollout.restart)


# Fabric runs a task once per host given with -H. health and status show one table for
# the whole fleet, so the first call does every host and the later calls have nothing to do.
_FLEET_DONE: set[str] = set()


def _fleet(c: Context, task_name: str) -> list[Connection]:
    first = _host(c, task_name).connection
    if task_name in _FLEET_DONE:
        return []
    _FLEET_DONE.add(task_name)
    try:
        from fabric.main import program

        given = program.core[0].args.hosts.value if program.core else None
    except (ImportError, AttributeError, IndexError):
        given = None
    names = [h for h in str(given or "").split(",") if h] or [first.original_host]
    return [
        first if name == first.original_host else Connection(name, config=first.config)
        for name in names
    ]


def _probe_fleet(c: Context, task_name: str) -> list[HostHealth]:
    results = []
    for connection in _fleet(c, task_name):
        host = Host(connection)
        try:
            ctx = rollout.open_host(host)
            with host.failing_as("probe"):
                routing = rollout.routing_summary(ctx.deployment)
                results.append(health.check_host(host, ctx.deployment, routing))
        except StepFailed as err:
            failed = HostHealth(host.name)
            failed.hosts_row = (
                [health.Cell(host.name)]
                + [health.Cell(f"UNREACHABLE: {err.detail}", red=True)]
                + [health.Cell("-") for _ in health.HOST_COLUMNS[2:]]
            )
            failed.problems.append(f"{host.name}: {err.detail}")
            results.append(failed)
        finally:
            host.close()
    return results


def _show(results: list[HostHealth], nodes: bool) -> None:
    color = sys.stdout.isatty()
    text = health.table(health.HOST_COLUMNS, [r.hosts_row for r in results], color)
    if nodes:
        rows = [row for r in results for row in r.node_rows]
        text += "\n\n" + health.table(health.NODE_COLUMNS, rows, color)
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `fab health | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@task
def health_(c: Context) -> None:
    """Every host and node: healthz, MariaDB, Redis, disk, certificate, backup; 1 if red."""
    results = _probe_fleet(c, "health")
    if not results:
        return
    _show(results, nodes=True)
    problems = [p for r in results for p in r.problems]
    if problems:
        print()
        for problem in problems:
            print(f"RED  {problem}")
        raise Exit(f"fab health: {len(problems)} problem(s)", code=1)
    print("\nhealth: all green")


@task
def status(c: Context) -> None:
    """What runs where: releases, node groups, the gray share and pinned tenants."""
    results = _probe_fleet(c, "status")
    if results:
        _show(results, nodes=True)


@task(
    help={
        "node": "one node, e.g. blue-1 (default: every running node)",
        "lines": "how many lines of each log (default 50)",
        "follow": "keep printing new lines (one node)",
    }
)
def logs(c: Context, node: str | None = None, lines: Any = None, follow: bool = False) -> None:
    """The nodes' logs (journald, or supervisord's files on hosts without systemd)."""
    count = _int(lines, "lines", 1, 100000) or 50  # a string, checked here (see install)

    def show(host: Host) -> None:
        ctx = rollout.open_host(host)
        chosen = [
            (slot, port)
            for slot in ctx.deployment.running_slots()
            for port in ctx.deployment.nodes_of(slot)
            if node in (None, node_name(slot, port))
        ]
        if not chosen:
            raise StepFailed(host.name, "logs", f"no running node named {node}")
        if follow and len(chosen) > 1:
            raise StepFailed(host.name, "logs", "--follow needs one --node")
        for slot, port in chosen:
            print(f"==> [{host.name}] {node_name(slot, port)} (port {port}) <==", flush=True)
            command = ctx.supervisor.logs_command(slot, port, count, follow)
            with host.failing_as("logs"):
                # Streamed as it comes, not collected: --follow runs until Ctrl-C.
                host.connection.run(command, hide=False, warn=True, in_stream=False, pty=follow)

    _guarded(c, "logs", show)


@task(
    help={
        "download": "also copy the archive here (0600), checking its sha256",
        "to": "where downloads go (default ./backups/<host>/)",
        "tenant": "only this tenant's data",
        "passphrase-file": "a local file whose first line encrypts the archive, keys included",
    }
)
def backup(
    c: Context,
    download: bool = False,
    to: str | None = None,
    tenant: str | None = None,
    passphrase_file: str | None = None,
) -> None:
    """Back up now (steadydesk backup on the host); --download copies the archive here."""
    _guarded(c, "backup", lambda host: backups.backup(host, tenant, download, to, passphrase_file))


@task(help={"passphrase-file": "for an encrypted (--with-keys) newest archive"})
def restore_drill(c: Context, passphrase_file: str | None = None) -> None:
    """Restore the newest backup into a scratch database on the host and verify it."""
    _guarded(c, "restore-drill", lambda host: backups.restore_drill(host, passphrase_file))
