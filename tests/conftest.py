"""Shared fixtures: the real server on each storage backend, and protocol clients.

* ``backend``: ``sqlite`` or ``mysql`` (module-scoped parameter; MySQL is skipped with a
  reason when unreachable, or fails under STEADY_TEST_REQUIRE_SERVICES=1).
* ``server``: one server per backend per test module, with the demo tenant seeded.
* ``server_factory``: a server of a test's own, with extra environment, for tests that
  need special settings or that stop or kill it.
* ``clients``: opens WebSocket clients and closes them after the test, failing the test
  if any connection received a seq twice, out of order, or a frame that is not JSON.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.clients import Clients
from tests.support.cluster import ClusterServer, cluster_mode
from tests.support.serial import run_id as serial_run_id
from tests.support.serial import turn as serial_turn
from tests.support.server import ServerFactory, ServerProcess
from tests.support.services import create_mysql_database, drop_mysql_database, require_mysql

# Shared servers serve many tests from one address within a minute: lift the per-IP
# connection limit and the per-connection send limits (tests of those limits start a
# server of their own with the limit they test).
SHARED_SERVER_ENV = {
    "STEADY_CONN_RATE_IP": "100000",
    "STEADY_WS_RATE_VISITOR": "100000",
    "STEADY_WS_RATE_AGENT": "100000",
}


class Databases:
    """Hands out a fresh database URL per server and drops the MySQL ones afterwards."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.mysql_names: list[str] = []

    def new_url(self, data_dir: Path) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{data_dir / 'steadydesk.db'}"
        db = create_mysql_database()
        self.mysql_names.append(db.name)
        return db.url

    def drop_all(self) -> None:
        for name in self.mysql_names:
            with contextlib.suppress(Exception):
                drop_mysql_database(name)
        self.mysql_names.clear()


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "sqlite" and cluster_mode():
        pytest.skip("STEADY_TEST_TOPOLOGY=cluster3: nodes share one MariaDB database")
    if name == "mysql":
        require_mysql()
    return name


class ServerMaker:
    """Makes servers with their own data dir and database; stops them all at the end.

    Under ``STEADY_TEST_TOPOLOGY=cluster3`` each "server" is three nodes behind nginx
    (``tests/support/cluster.py``), used by the tests exactly like one process.
    """

    def __init__(self, backend: str, tmp_path_factory: pytest.TempPathFactory,
                 prefix: str) -> None:
        self.databases = Databases(backend)
        self.tmp_path_factory = tmp_path_factory
        self.prefix = prefix
        self.made: list[ServerProcess | ClusterServer] = []

    def __call__(self, env: Mapping[str, str] | None = None, *,
                 start: bool = True) -> ServerProcess:
        name = f"{self.prefix}{len(self.made) + 1}"
        data_dir = self.tmp_path_factory.mktemp(f"{name}-{self.databases.backend}")
        kind = ClusterServer if cluster_mode() else ServerProcess
        srv = kind(data_dir, self.databases.new_url(data_dir),
                   env={**SHARED_SERVER_ENV, **(env or {})}, name=name)
        self.made.append(srv)
        if start:
            srv.start()
        return srv

    def close(self) -> None:
        for srv in self.made:
            srv.stop()
        self.databases.drop_all()


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    maker = ServerMaker(backend, tmp_path_factory, "shared")
    try:
        yield maker()
    finally:
        maker.close()


@pytest.fixture
def server_factory(backend: str,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """``server_factory(env={...}, start=True)``: a fresh server with its own database,
    stopped after the test. ``env`` is added to the shared servers' settings (so rate
    limits stay lifted unless the test sets them)."""
    maker = ServerMaker(backend, tmp_path_factory, "own")
    try:
        yield maker
    finally:
        maker.close()


@pytest.fixture(scope="module")
def module_server_factory(backend: str,
                          tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """Like ``server_factory``, for servers with special settings shared by one module."""
    maker = ServerMaker(backend, tmp_path_factory, "special")
    try:
        yield maker
    finally:
        maker.close()


@pytest_asyncio.fixture
async def clients() -> AsyncIterator[Clients]:
    pool = Clients()
    try:
        yield pool
    finally:
        await pool.close_all()
    problems = pool.check()
    assert not problems, "protocol violations seen by clients:\n" + "\n".join(problems)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for srv in ServerProcess.running:
            report.sections.append((f"server {srv.name} log", srv.log_tail(40)))
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    """Under xdist, ``serial`` tests (they measure time or CPU) run alone."""
    serial = item.get_closest_marker("serial") is not None
    with serial_turn(serial_run_id(item.config), serial):
        return (yield)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for srv in list(ServerProcess.running):  # last resort; fixtures normally stop them
        srv.stop()
