"""nginx's site on a host: written from the deployment record, checked with ``nginx -t``,
reloaded, and waited for: fab goes on only once nginx serves the routing it wrote (the
probe on loopback answers its id), so nodes are never drained while traffic still goes
to them."""

from __future__ import annotations

from ops import nginx
from ops.checks import wait_url
from ops.deployment import Deployment
from ops.layout import (
    NGINX_DEFAULT_SITE_LINK,
    NGINX_SITE,
    NGINX_SITE_LINK,
    ROUTING_PROBE_PATH,
    ROUTING_PROBE_PORT,
)
from ops.remote import CommandFailed, Host, Outcome, StepFailed, changed, unchanged
from ops.services import Supervisor


def apply_site(host: Host, deployment: Deployment, ipv6: bool, supervisor: Supervisor) -> Outcome:
    """Write the nginx site from the deployment, check it, reload, and wait until it serves."""
    what = []
    if host.write(NGINX_SITE, nginx.render_site(deployment, ipv6=ipv6)):
        what.append(f"wrote {NGINX_SITE}")
    if host.ok(f"test -e {NGINX_DEFAULT_SITE_LINK}"):
        host.run(f"rm -f {NGINX_DEFAULT_SITE_LINK}")
        what.append("disabled nginx's default site")
    if host.run(f"readlink {NGINX_SITE_LINK} || true").strip() != NGINX_SITE:
        host.run(f"ln -sfn {NGINX_SITE} {NGINX_SITE_LINK}")
        what.append("enabled it")
    if what:
        try:
            host.run("nginx -t -q")
        except CommandFailed as err:
            raise StepFailed(
                host.name, "nginx site", f"nginx -t refused it: {err.output}"
            ) from None
        supervisor.service("reload", "nginx")
    wait_url(
        host,
        f"http://127.0.0.1:{ROUTING_PROBE_PORT}{ROUTING_PROBE_PATH}",
        body=nginx.routing_id(deployment),
    )
    if what:
        return changed(", ".join(what) + "; nginx reloaded")
    return unchanged("nginx serves the current routing")
