"""Where things live on a host, and how node groups and ports are named.

Two node groups ("slots"), blue and green, run side by side during a gray rollout; at
other times one of them is live and the other is stopped, keeping the previous release
for ``fab rollback``. Node ``blue-2`` listens on 127.0.0.1:(BLUE_BASE_PORT + 1).
"""

from __future__ import annotations

from typing import Literal

Slot = Literal["blue", "green"]
SLOTS: tuple[Slot, Slot] = ("blue", "green")

SERVICE_USER = "steadydesk"
APP_DIR = "/opt/steadydesk"
RELEASES_DIR = f"{APP_DIR}/releases"
CURRENT_LINK = f"{APP_DIR}/current"  # the live release
SLOTS_DIR = f"{APP_DIR}/slots"  # slots/blue -> ../releases/<stamp>
WHEELHOUSE_DIR = f"{APP_DIR}/wheelhouse"  # dependency wheels, shared by releases
RELEASE_WHEELS_DIR = f"{APP_DIR}/wheelhouse/releases"  # <commit>/steadydesk-*.whl

CONFIG_DIR = "/etc/steadydesk"
CONFIG_FILE = f"{CONFIG_DIR}/steadydesk.json"  # the nodes' settings and secrets (0600)
DEPLOYMENT_FILE = f"{CONFIG_DIR}/deployment.json"  # what fab installed and where traffic goes
TLS_DIR = f"{CONFIG_DIR}/tls"
DATA_DIR = "/var/lib/steadydesk"
LOG_DIR = "/var/log/steadydesk"
ACME_WEBROOT = "/var/www/steadydesk-acme"

NGINX_SITE = "/etc/nginx/sites-available/steadydesk"
NGINX_SITE_LINK = "/etc/nginx/sites-enabled/steadydesk"
NGINX_DEFAULT_SITE_LINK = "/etc/nginx/sites-enabled/default"
# nginx answers this on loopback with the id of the routing it serves, so a reload can be
# waited for before nodes are drained.
ROUTING_PROBE_PORT = 8799
ROUTING_PROBE_PATH = "/steadydesk-routing"

SYSTEMD_DIR = "/etc/systemd/system"
SUPERVISOR_CONF = "/etc/supervisor/conf.d/steadydesk.conf"

DATABASE_NAME = "steadydesk"
DATABASE_USER = "steadydesk"
REDIS_URL = "redis://127.0.0.1:6379/0"

BASE_PORTS: dict[Slot, int] = {"blue": 8801, "green": 8851}
MAX_NODES = 40  # per slot, so the port ranges never meet


def other(slot: Slot) -> Slot:
    return "green" if slot == "blue" else "blue"


def node_ports(slot: Slot, nodes: int) -> list[int]:
    return [BASE_PORTS[slot] + i for i in range(nodes)]


def node_name(slot: Slot, port: int) -> str:
    return f"{slot}-{port - BASE_PORTS[slot] + 1}"


def systemd_unit(slot: Slot, port: int) -> str:
    return f"steadydesk-{slot}@{port}.service"


def supervisor_program(slot: Slot, port: int) -> str:
    return f"steadydesk-{slot}-{port}"


def slot_link(slot: Slot) -> str:
    return f"{SLOTS_DIR}/{slot}"
