"""Fixtures of the ops suite. The host tests boot Debian containers and run ``fab`` against
them: they need root, debootstrap, systemd-nspawn and apt-cacher-ng, and run with
``task test-ops`` (``STEADY_TEST_OPS=1``), not in ``task test``.

``installed`` runs ``fab install`` once per session on a fresh bare host and keeps what
it changed as an overlay layer; ``installed_host`` boots a fresh copy of that layer for
each test (same address, so the certificate still names it), so no test sees another's
state and the suite pays for one install.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ops.support import InstallCredentials, Lab, assert_ok, wait_serving
from tests.support.debian_root import HostToolMissing
from tests.support.services import service_unavailable
from tests.support.testhost import TestHost

OPS_ENV = "STEADY_TEST_OPS"
INSTALL_NODES = "2"


def ops_enabled() -> bool:
    return os.environ.get(OPS_ENV, "") == "1"


ops_suite = pytest.mark.skipif(
    not ops_enabled(),
    reason=f"the ops suite (Debian test hosts, the previous release): task test-ops ({OPS_ENV}=1)",
)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        service_unavailable("the ops tests boot containers: run them as root")
    work = Path(tmp_path_factory.mktemp("ops-lab"))
    try:
        made = Lab.create(work)
    except HostToolMissing as err:
        service_unavailable(str(err))
    try:
        yield made
    finally:
        print("\n".join(["", "fab runs:", *made.fab_log]))
        made.close()


@dataclass(frozen=True)
class Installed:
    layer: Path  # what fab install changed on the bare root
    address: str
    stdout: str
    credentials: InstallCredentials
    seconds: float


@pytest.fixture(scope="session")
def installed(lab: Lab) -> Installed:
    host = lab.host(name="install")
    bare = host.ssh(
        "dpkg-query -W -f='${Package}\\n' mariadb-server redis-server nginx python3", check=False
    )
    assert bare.stdout.strip() == "", f"the bare root has server packages: {bare.stdout}"
    started = time.monotonic()
    result = lab.fab(host, "install", "--nodes", INSTALL_NODES)
    seconds = time.monotonic() - started
    stdout = assert_ok(result)
    host.stop()  # cleanly: MariaDB's files are consistent in the layer
    layer = lab.work / "installed-layer"
    shutil.move(str(host.upper), layer)
    return Installed(layer, host.address, stdout, InstallCredentials.parse(stdout), seconds)


@pytest.fixture
def installed_host(lab: Lab, installed: Installed) -> Iterator[TestHost]:
    host = lab.host(layers=[installed.layer], address=installed.address, name="copy")
    try:
        wait_serving(host)
        yield host
    finally:
        host.discard()
        lab.hosts.remove(host)
