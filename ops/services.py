"""Who keeps processes running on a host: systemd where it is PID 1, supervisord otherwise.

Nodes are declared from the deployment record (the nodes of its running groups) and the
supervisor converges on that; draining is the one thing done node by node, in order. The
system services (MariaDB, Redis, nginx) are the distribution's: systemd units, or their
init scripts through ``service`` where there is no systemd (containers).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Protocol

from ops.deployment import Deployment
from ops.layout import (
    APP_DIR,
    CONFIG_FILE,
    DATA_DIR,
    LOG_DIR,
    SERVICE_USER,
    SLOTS,
    SUPERVISOR_CONF,
    SYSTEMD_DIR,
    Slot,
    supervisor_program,
    systemd_unit,
)
from ops.remote import CommandFailed, Host

TEMPLATES = Path(__file__).parent / "templates"


def _fill(template: str, **values: str) -> str:
    text = (TEMPLATES / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


class Supervisor(Protocol):
    kind: str

    def install(self, deployment: Deployment) -> bool:
        """Write the node definitions; start the nodes of running groups. True if changed."""

    def stop_node(self, slot: Slot, port: int) -> None: ...

    def restart_node(self, slot: Slot, port: int) -> None: ...

    def running(self, slot: Slot, port: int) -> bool: ...

    def logs_command(self, slot: Slot, port: int, lines: int, follow: bool) -> str: ...

    def service(self, action: str, name: str) -> None: ...

    def service_active(self, name: str) -> bool: ...


class Systemd:
    kind = "systemd"

    def __init__(self, host: Host) -> None:
        self.host = host

    def install(self, deployment: Deployment) -> bool:
        changed = False
        for slot in SLOTS:
            text = _fill(
                "steadydesk-node.service",
                SLOT=slot, USER=SERVICE_USER, APP_DIR=APP_DIR, CONFIG_FILE=CONFIG_FILE,
            )  # fmt: skip
            changed |= self.host.write(f"{SYSTEMD_DIR}/steadydesk-{slot}@.service", text)
        if changed:
            self.host.run("systemctl daemon-reload")
        wanted = [
            systemd_unit(slot, port)
            for slot in deployment.running_slots()
            for port in deployment.nodes_of(slot)
        ]
        missing = [u for u in wanted if not self.host.ok(f"systemctl is-enabled --quiet {u}")]
        missing += [
            u
            for u in wanted
            if u not in missing and not self.host.ok(f"systemctl is-active --quiet {u}")
        ]
        if missing:
            self.host.run(f"systemctl enable --now {' '.join(missing)}")
        # Nodes no longer wanted (fewer --nodes, a group left running by an interrupted
        # drain) are stopped too: the units converge on the deployment record.
        present = self.host.run(
            "systemctl list-units --all --plain --no-legend 'steadydesk-*@*.service' "
            "| awk '$3 == \"active\" {print $1}'; "
            f"ls {SYSTEMD_DIR}/multi-user.target.wants/ | grep '^steadydesk-' || true"
        ).split()
        extra = sorted({u for u in present if "@." not in u} - set(wanted))
        if extra:
            self.host.run(f"systemctl disable --now {' '.join(extra)}")
        return changed or bool(missing) or bool(extra)

    def stop_node(self, slot: Slot, port: int) -> None:
        self.host.run(f"systemctl disable --now {systemd_unit(slot, port)}")

    def restart_node(self, slot: Slot, port: int) -> None:
        self.host.run(f"systemctl restart {systemd_unit(slot, port)}")

    def running(self, slot: Slot, port: int) -> bool:
        return self.host.ok(f"systemctl is-active --quiet {systemd_unit(slot, port)}")

    def logs_command(self, slot: Slot, port: int, lines: int, follow: bool) -> str:
        return f"journalctl -u {systemd_unit(slot, port)} -n {lines} --no-pager" + (
            " -f" if follow else ""
        )

    def service(self, action: str, name: str) -> None:
        if action == "ensure":
            self.host.run(f"systemctl enable --now {name}")
        else:
            self.host.run(f"systemctl {action} {name}")

    def service_active(self, name: str) -> bool:
        return self.host.ok(f"systemctl is-active --quiet {name}")


class Supervisord:
    """Debian's supervisor package; nodes are programs in one conf file."""

    kind = "supervisord"

    def __init__(self, host: Host, hostname: str) -> None:
        self.host = host
        self.hostname = hostname

    def _conf(self, deployment: Deployment) -> str:
        blocks = [
            "; Steadydesk nodes, written by fab from ops/templates/supervisor-node.conf;"
            " the next fab run overwrites local changes."
        ]
        for slot in deployment.running_slots():
            for port in deployment.nodes_of(slot):
                blocks.append(
                    _fill(
                        "supervisor-node.conf",
                        PROGRAM=supervisor_program(slot, port),
                        SLOT=slot,
                        PORT=str(port),
                        APP_DIR=APP_DIR,
                        CONFIG_FILE=CONFIG_FILE,
                        USER=SERVICE_USER,
                        HOSTNAME=self.hostname,
                        DATA_DIR=DATA_DIR,
                        LOG_DIR=LOG_DIR,
                    )
                )
        return "\n".join(blocks)

    def install(self, deployment: Deployment) -> bool:
        self.service("ensure", "supervisor")
        changed = self.host.write(SUPERVISOR_CONF, self._conf(deployment))
        # update adds new programs (started), removes gone ones, restarts changed ones.
        report = self.host.run("supervisorctl update")
        return changed or bool(report.strip())

    def stop_node(self, slot: Slot, port: int) -> None:
        self.host.run(f"supervisorctl stop {supervisor_program(slot, port)}")

    def restart_node(self, slot: Slot, port: int) -> None:
        self.host.run(f"supervisorctl restart {supervisor_program(slot, port)}")

    def running(self, slot: Slot, port: int) -> bool:
        try:
            status = self.host.run(f"supervisorctl status {supervisor_program(slot, port)}")
        except CommandFailed:
            return False
        # STARTING (the first startsecs) and BACKOFF (restarting) are running too: a drain
        # must stop them, health must not call them stopped.
        return any(f" {state} " in f" {status} " for state in ("RUNNING", "STARTING", "BACKOFF"))

    def logs_command(self, slot: Slot, port: int, lines: int, follow: bool) -> str:
        path = shlex.quote(f"{LOG_DIR}/{slot}-{port}.log")
        return f"tail -n {lines} {'-F ' if follow else ''}{path}"

    def service(self, action: str, name: str) -> None:
        if action == "ensure":
            if not self.service_active(name):
                self.host.run(f"service {name} start")
            if name == "supervisor":
                # The init script returns before supervisord listens on its socket.
                self.host.run(
                    "for i in $(seq 50); do supervisorctl pid >/dev/null 2>&1 && exit 0;"
                    " sleep 0.2; done; echo 'supervisord did not start' >&2; exit 1"
                )
            return
        self.host.run(f"service {name} {action}")

    def service_active(self, name: str) -> bool:
        return self.host.ok(f"service {name} status >/dev/null 2>&1")


def supervisor_for(host: Host, systemd: bool, hostname: str) -> Supervisor:
    return Systemd(host) if systemd else Supervisord(host, hostname)
