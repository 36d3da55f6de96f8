"""What fab installed on a host and where its traffic goes, kept in /etc/steadydesk.

``deployment.json`` (root-owned, no secrets) is the one record every task reads first:
the install's choices (nodes, port, name, TLS), which release each node group runs, which
group is live and, during a gray rollout, the other group's share and the pinned tenants.
The nginx site and the node units are rendered from it, so they never disagree.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from ops.layout import DEPLOYMENT_FILE, SLOTS, Slot, node_ports
from ops.remote import Host


@dataclass
class Gray:
    slot: Slot  # the group running the new release
    percent: float  # share of visitors (by hash) sent to it
    pin_old: list[str] = field(default_factory=list)  # tenants kept on the live group
    pin_new: list[str] = field(default_factory=list)  # tenants sent to the new group
    site_pins: dict[str, Slot] = field(default_factory=dict)  # pinned tenants' site keys


@dataclass
class Tls:
    kind: str  # "letsencrypt" or "self-signed"
    cert: str
    key: str


@dataclass
class Deployment:
    nodes: int
    https_port: int
    server_name: str  # the domain, or the address fab reached the host by
    domain: str | None
    tenant: str
    mode: str  # SelfHosted | SaaS
    tls: Tls
    installed_at: str
    live: Slot | None = None
    releases: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(SLOTS))
    gray: Gray | None = None
    # The last switch was a rollback: the other group holds the release rolled back from,
    # so a second rollback would bring it back (refused; deploy moves on).
    rolled_back: bool = False

    def running_slots(self) -> list[Slot]:
        slots: list[Slot] = [self.live] if self.live else []
        if self.gray:
            slots.append(self.gray.slot)
        return slots

    def nodes_of(self, slot: Slot) -> list[int]:
        return node_ports(slot, self.nodes)

    def release_of(self, slot: Slot) -> str | None:
        return self.releases.get(slot)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Deployment:
        raw: dict[str, Any] = json.loads(text)
        gray = raw.pop("gray", None)
        tls = raw.pop("tls")
        deployment = cls(**raw, tls=Tls(**tls))
        if gray:
            deployment.gray = Gray(**gray)
        deployment.live = cast("Slot | None", deployment.live)
        return deployment


def load_deployment(host: Host) -> Deployment | None:
    text = host.read(DEPLOYMENT_FILE)
    return Deployment.from_json(text) if text else None


def save_deployment(host: Host, deployment: Deployment) -> bool:
    return host.write(DEPLOYMENT_FILE, deployment.to_json(), mode=0o644)
