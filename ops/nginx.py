"""The nginx site of a host, rendered from its deployment record (pure functions).

Gray routing is nginx's own: ``split_clients`` (MurmurHash2 of the visitor key) gives a
visitor the same group on every request and reconnect; ``map`` pins tenants, by their
slug for agents (``?tenant=``) and by their sites' keys for visitors (``?site=``).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ops.deployment import Deployment
from ops.layout import (
    ACME_WEBROOT,
    ROUTING_PROBE_PATH,
    ROUTING_PROBE_PORT,
    SLOTS,
    Slot,
    node_name,
    other,
)

TEMPLATE = Path(__file__).parent / "templates" / "nginx-site.conf"
# Values written into the config: slugs and site keys are checked against these first.
SAFE_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def _upstream(deployment: Deployment, slot: Slot) -> str:
    lines = [f"upstream steadydesk_{slot} {{"]
    for port in deployment.nodes_of(slot):
        lines.append(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;")
    fallback = other(slot)
    if fallback in deployment.running_slots():
        for port in deployment.nodes_of(fallback):
            lines.append(f"    server 127.0.0.1:{port} backup;")
    lines += ["    keepalive 32;", "}"]
    return "\n".join(lines)


def _percent(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


def _routing(deployment: Deployment) -> str:
    live = deployment.live
    gray = deployment.gray
    if gray is None or live is None:
        return f"map $host $steadydesk_group {{\n    default {live or 'blue'};\n}}"
    # Keys are prefixed ("s:", "t:"): a tenant may be called "default", which map takes
    # for its own default line even when quoted.
    site_pins = "".join(f'    "s:{key}" {slot};\n' for key, slot in sorted(gray.site_pins.items()))
    tenant_pins = "".join(f'    "t:{t}" {live};\n' for t in sorted(gray.pin_old)) + "".join(
        f'    "t:{t}" {gray.slot};\n' for t in sorted(gray.pin_new)
    )
    split = (
        f"    {_percent(gray.percent)} {gray.slot};\n    * {live};\n"
        if gray.percent < 100
        else f"    * {gray.slot};\n"
    )
    if gray.percent <= 0:
        split = f"    * {live};\n"
    return (
        f'map "s:$arg_site" $steadydesk_site_pin {{\n    default "";\n{site_pins}}}\n'
        f'map "t:$arg_tenant" $steadydesk_tenant_pin {{\n    default "";\n{tenant_pins}}}\n'
        f'split_clients "${{arg_visitor}}" $steadydesk_visitor_group {{\n{split}}}\n'
        'map "$steadydesk_site_pin:$steadydesk_tenant_pin:$arg_visitor" $steadydesk_group {\n'
        f"    default {live};\n"
        '    "~^(?<steadydesk_by_site>blue|green):" $steadydesk_by_site;\n'
        '    "~^:(?<steadydesk_by_tenant>blue|green):" $steadydesk_by_tenant;\n'
        '    "~^::." $steadydesk_visitor_group;\n'
        "}"
    )


def _metrics_locations(deployment: Deployment) -> str:
    """Every node of both groups has a stable path for Prometheus; a node that is not
    meant to run answers an empty exposition (up, no samples), so a group at rest raises
    no alarm while a running node that stops answering does."""
    blocks = []
    running = deployment.running_slots()
    for slot in SLOTS:
        for port in deployment.nodes_of(slot):
            name = node_name(slot, port)
            if slot in running:
                body = (
                    f"        proxy_pass http://127.0.0.1:{port}/metrics;\n"
                    "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                )
            else:
                body = (
                    "        default_type text/plain;\n"
                    f'        return 200 "# {name} is not running: its group is at rest\\n";\n'
                )
            blocks.append(f"    location = /metrics/{name} {{\n{body}    }}")
    return "\n".join(blocks)


def routing_id(deployment: Deployment) -> str:
    """Changes whenever where requests go changes."""
    text = "\n".join(
        [_routing(deployment), *(_upstream(deployment, s) for s in deployment.running_slots())]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def render_site(deployment: Deployment, *, ipv6: bool) -> str:
    gray = deployment.gray
    for key in [*gray.site_pins, *gray.pin_old, *gray.pin_new] if gray else []:
        if not SAFE_KEY.match(key):
            raise ValueError(f"refusing to write {key!r} into the nginx config")
    upstreams = "\n\n".join(_upstream(deployment, s) for s in deployment.running_slots())
    port = deployment.https_port
    values = {
        "@UPSTREAMS@": upstreams,
        "@ROUTING@": _routing(deployment),
        "@LISTEN_HTTP_V6@": "    listen [::]:80;" if ipv6 else "",
        "@LISTEN_HTTPS_V6@": f"    listen [::]:{port} ssl http2;" if ipv6 else "",
        "@HTTPS_PORT@": str(port),
        "@HTTPS_PORT_SUFFIX@": "" if port == 443 else f":{port}",
        "@SERVER_NAME@": deployment.domain or "_",
        "@TLS_CERT@": deployment.tls.cert,
        "@TLS_KEY@": deployment.tls.key,
        "@METRICS_LOCATIONS@": _metrics_locations(deployment),
        "@ACME_WEBROOT@": ACME_WEBROOT,
        "@PROBE_PORT@": str(ROUTING_PROBE_PORT),
        "@PROBE_PATH@": ROUTING_PROBE_PATH,
        "@ROUTING_ID@": routing_id(deployment),
    }
    lines = []
    for line in TEMPLATE.read_text().splitlines():
        alone = values.get(line.strip())
        if alone is not None:  # a placeholder on its own line: dropped when empty
            if alone:
                lines.append(alone)
            continue
        for placeholder, value in values.items():
            line = line.replace(placeholder, value)
        lines.append(line)
    return "\n".join(lines) + "\n"
