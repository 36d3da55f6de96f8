"""What a host is: its distribution, init system, CPU and C library, read in one command."""

from __future__ import annotations

from dataclasses import dataclass

from ops.build import TargetPython
from ops.remote import Host, StepFailed

FACTS_SCRIPT = r"""
. /etc/os-release
echo "os=$ID"
echo "version=$VERSION_ID"
echo "pretty=$PRETTY_NAME"
echo "machine=$(uname -m)"
echo "glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')"
if [ -d /run/systemd/system ]; then echo systemd=1; else echo systemd=0; fi
if [ -f /proc/net/if_inet6 ]; then echo ipv6=1; else echo ipv6=0; fi
echo "hostname=$(hostname)"
echo "addresses=$(hostname -I 2>/dev/null || true)"
"""


@dataclass(frozen=True)
class Python:
    """The interpreter releases are built with, and the wheel tags it accepts."""

    executable: str
    venv_package: str
    version: tuple[int, int]


@dataclass(frozen=True)
class HostFacts:
    os: str
    version: str
    pretty: str
    machine: str
    glibc: tuple[int, int]
    systemd: bool
    ipv6: bool
    hostname: str
    addresses: tuple[str, ...]

    @property
    def python(self) -> Python:
        """Steadydesk needs Python 3.11+; Ubuntu 22.04 has it beside its default 3.10."""
        if (self.os, self.version) == ("ubuntu", "22.04"):
            return Python("/usr/bin/python3.11", "python3.11-venv", (3, 11))
        if (self.os, self.version) == ("ubuntu", "24.04"):
            return Python("/usr/bin/python3", "python3-venv", (3, 12))
        return Python("/usr/bin/python3", "python3-venv", (3, 11))

    @property
    def python_packages(self) -> list[str]:
        name = self.python.executable.rsplit("/", 1)[-1]
        return [name, self.python.venv_package]

    def target_python(self, full_version: str) -> TargetPython:
        return TargetPython(full_version, self.machine, tuple(self.wheel_platforms))

    @property
    def wheel_platforms(self) -> list[str]:
        """manylinux tags this host's C library accepts, newest first."""
        major, minor = self.glibc
        tags = [f"manylinux_{major}_{m}_{self.machine}" for m in range(minor, 16, -1)]
        return [*tags, f"manylinux2014_{self.machine}"]


SUPPORTED = {("debian", "12"), ("ubuntu", "22.04"), ("ubuntu", "24.04")}


def gather(host: Host) -> HostFacts:
    values: dict[str, str] = {}
    for line in host.run(FACTS_SCRIPT).splitlines():
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    try:
        glibc_major, glibc_minor = (int(p) for p in values.get("glibc", "").split(".")[:2])
    except ValueError:
        raise StepFailed(host.name, "host facts", "no GNU C library found (getconf)") from None
    return HostFacts(
        os=values.get("os", ""),
        version=values.get("version", ""),
        pretty=values.get("pretty", ""),
        machine=values.get("machine", ""),
        glibc=(glibc_major, glibc_minor),
        systemd=values.get("systemd") == "1",
        ipv6=values.get("ipv6") == "1",
        hostname=values.get("hostname", ""),
        addresses=tuple(values.get("addresses", "").split()),
    )


def check_supported(host: Host, facts: HostFacts) -> None:
    if (facts.os, facts.version) not in SUPPORTED:
        raise StepFailed(
            host.name,
            "host facts",
            f"{facts.pretty or facts.os} is not supported: use Debian 12, Ubuntu 22.04 or 24.04",
        )
    if facts.machine not in ("x86_64", "aarch64"):
        raise StepFailed(host.name, "host facts", f"unsupported CPU architecture {facts.machine}")


def python_version(host: Host, facts: HostFacts) -> str:
    """The full version of the interpreter releases are built with (installed by then)."""
    return host.run(
        f"{facts.python.executable} -c 'import platform; print(platform.python_version())'"
    ).strip()
