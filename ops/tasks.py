"""The ``fab`` tasks (``fab --list``). Each parses its options, runs one procedure on each
host given with ``-H``, and turns a failure into one line naming the host and the step."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

from fabric import Connection, task
from invoke.context import Context
from invoke.exceptions import Exit

from ops.build import BuildFailed
from ops.install import Credentials, Installer, InstallOptions
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
        print("   certificate:  self-signed (browsers warn; give --domain to get Let's Encrypt)")
    for note in creds.notes:
        print(f"   note:         {note}")
    print(line)
    sys.stdout.flush()


@task(
    help={
        "domain": "public name; gets a Let's Encrypt certificate when it resolves to the host",
        "nodes": "node processes per group (default 2)",
        "tenant": "the first tenant's id (default: default)",
        "selfhost": "one company's install (the default)",
        "saas": "many tenants and a platform operator",
        "port": "HTTPS port nginx listens on (default 443)",
        "ref": "git ref of this repository to install (default HEAD)",
        "admin-email": "the first admin's login (default admin@<domain or localhost>)",
    }
)
def install(
    c: Context,
    domain: str | None = None,
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
