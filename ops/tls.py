"""The HTTPS certificate: Let's Encrypt (certbot, HTTP-01 through nginx) when the domain
points at the host, else a self-signed one for the domain or the host's address.

A self-signed certificate is kept while it names the server and has 30 days left; certbot
renews its own (the package's timer) and reloads nginx through a deploy hook.
"""

from __future__ import annotations

import ipaddress
import shlex

from ops.deployment import Deployment, Tls
from ops.facts import HostFacts
from ops.layout import ACME_WEBROOT, TLS_DIR
from ops.remote import CommandFailed, Host, Outcome, changed, unchanged

SELF_SIGNED_DAYS = 825
RENEW_BEFORE_SECS = 30 * 86400
RELOAD_HOOK = "/etc/letsencrypt/renewal-hooks/deploy/steadydesk-nginx"


def self_signed_paths() -> Tls:
    return Tls("self-signed", f"{TLS_DIR}/selfsigned.crt", f"{TLS_DIR}/selfsigned.key")


def _san(name: str) -> str:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return f"DNS:{name}"
    return f"IP:{name}"


def resolves_here(host: Host, domain: str, facts: HostFacts) -> bool:
    """Whether ``domain`` resolves (on the host) to one of the host's own addresses."""
    try:
        found = host.run(f"getent ahosts {shlex.quote(domain)} | awk '{{print $1}}' | sort -u")
    except CommandFailed:
        return False
    return bool(set(found.split()) & {*facts.addresses, host.address})


def _valid_self_signed(host: Host, cert: str, name: str) -> bool:
    quoted = shlex.quote(cert)
    if not host.ok(f"openssl x509 -noout -checkend {RENEW_BEFORE_SECS} -in {quoted}"):
        return False
    try:
        san = host.run(f"openssl x509 -noout -ext subjectAltName -in {quoted}")
    except CommandFailed:
        return False
    wanted = _san(name).replace("IP:", "IP Address:")
    return wanted in san


def ensure_certificate(host: Host, deployment: Deployment) -> Outcome:
    if deployment.tls.kind == "letsencrypt" and host.ok(
        f"openssl x509 -noout -checkend 0 -in {shlex.quote(deployment.tls.cert)}"
    ):
        return unchanged(f"Let's Encrypt certificate for {deployment.domain}")
    deployment.tls = self_signed_paths()
    name = deployment.server_name
    if _valid_self_signed(host, deployment.tls.cert, name):
        return unchanged(f"self-signed certificate for {name}")
    host.run(f"install -d -m 750 {TLS_DIR}")
    host.run(
        f"openssl req -x509 -newkey rsa:2048 -nodes -days {SELF_SIGNED_DAYS} "
        f"-subj {shlex.quote('/CN=' + name[:64])} "
        f"-addext {shlex.quote('subjectAltName=' + _san(name))} "
        f"-keyout {deployment.tls.key}.new -out {deployment.tls.cert}.new 2>&1 && "
        f"chmod 600 {deployment.tls.key}.new && "
        f"mv {deployment.tls.key}.new {deployment.tls.key} && "
        f"mv {deployment.tls.cert}.new {deployment.tls.cert}"
    )
    return changed(f"made a self-signed certificate for {name} (browsers will warn)")


def letsencrypt(host: Host, deployment: Deployment, facts: HostFacts) -> Outcome:
    """Ask Let's Encrypt through nginx's port 80; on any failure keep the self-signed one."""
    domain = deployment.domain or ""
    if not resolves_here(host, domain, facts):
        return unchanged(
            f"{domain} does not resolve to this host: kept the self-signed certificate "
            "(point its DNS here and run fab install again)"
        )
    try:
        host.run(
            "certbot certonly --webroot --non-interactive --agree-tos "
            f"--register-unsafely-without-email -w {ACME_WEBROOT} -d {shlex.quote(domain)}",
            timeout=300,
        )
    except CommandFailed as err:
        return unchanged(f"certbot failed, kept the self-signed certificate: {err.output}")
    hook = (
        "#!/bin/sh\n# Written by fab install: pick up renewed certificates.\n"
        "nginx -t -q && (systemctl reload nginx || service nginx reload)\n"
    )
    host.write(RELOAD_HOOK, hook, mode=0o755)
    live = f"/etc/letsencrypt/live/{domain}"
    deployment.tls = Tls("letsencrypt", f"{live}/fullchain.pem", f"{live}/privkey.pem")
    return changed(f"Let's Encrypt certificate for {domain}")
