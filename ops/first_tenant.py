"""The install's first tenant: a site for the widget and an admin whose generated password
is shown once, by the run that created it (and a platform operator on a SaaS install).

Existing ones are kept: a second install creates nothing, and never prints a password
it did not set. Passwords reach the host's CLI on stdin (``--password-file -``), never
on a command line.
"""

from __future__ import annotations

import json
import secrets
import shlex
from dataclasses import dataclass, field

from ops.layout import CURRENT_LINK
from ops.release import steadydesk
from ops.remote import CommandFailed, Host

PASSWORD_BYTES = 15  # 20 URL-safe characters


@dataclass
class Credentials:
    """What the sysadmin must see once: new passwords are shown only by the run that made them."""

    url: str = ""
    tenant: str = ""
    mode: str = ""
    admin_email: str = ""
    admin_password: str | None = None
    operator_email: str = ""
    operator_password: str | None = None
    site_key: str = ""
    tls_kind: str = ""
    notes: list[str] = field(default_factory=list)


def ensure_first_tenant(host: Host, creds: Credentials) -> list[str]:
    """The tenant, a site allowing the install's URL, an admin; returns what it created."""
    tenant = shlex.quote(creds.tenant)
    made = []
    try:
        summary = json.loads(steadydesk(host, CURRENT_LINK, f"tenant show {tenant}"))
    except CommandFailed as err:
        if f"no tenant {creds.tenant}" not in err.output:
            raise
        steadydesk(host, CURRENT_LINK, f"tenant create {tenant}")
        summary = {"sites": [], "admins": []}
        made.append(f"tenant {creds.tenant}")
    if summary["sites"]:
        creds.site_key = summary["sites"][0]["site_key"]
    else:
        origin = shlex.quote(creds.url.rstrip("/"))
        created = steadydesk(
            host, CURRENT_LINK, f"site create --tenant {tenant} --name Website --origin {origin}"
        )
        creds.site_key = json.loads(created)["site_key"]
        made.append("a site")
    if summary["admins"]:
        creds.admin_email = summary["admins"][0]
    else:
        creds.admin_password = secrets.token_urlsafe(PASSWORD_BYTES)
        steadydesk(
            host, CURRENT_LINK,
            f"agent create --tenant {tenant} --email {shlex.quote(creds.admin_email)} "
            "--role admin --password-file -",
            input=creds.admin_password + "\n",
        )  # fmt: skip
        made.append(f"admin {creds.admin_email}")
    return made


def ensure_operator(host: Host, creds: Credentials, email: str) -> list[str]:
    """A platform operator (SaaS); none is made when one with this e-mail exists."""
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    try:
        steadydesk(
            host, CURRENT_LINK,
            f"operator create --email {shlex.quote(email)} --password-file -",
            input=password + "\n",
        )  # fmt: skip
    except CommandFailed as err:
        if "exists" not in err.output:
            raise
        return []
    creds.operator_email, creds.operator_password = email, password
    return [f"platform operator {email}"]
