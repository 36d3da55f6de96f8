"""Clusters for the fault tests: nodes over one MariaDB database and one private Redis,
optionally behind Debian's nginx. Each test starts and stops what it uses, by pid."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.nginx import Nginx
from tests.support.redis_server import PrivateRedis
from tests.support.server import DemoTenant, ServerProcess
from tests.support.services import create_mysql_database, drop_mysql_database

OPEN_LIMITS = {
    "STEADY_CONN_RATE_IP": "100000",
    "STEADY_WS_RATE_VISITOR": "100000",
    "STEADY_WS_RATE_AGENT": "100000",
}


@dataclass
class Front:
    """What the test clients need of a server: addresses and the demo tenant (nginx here)."""

    url: str
    ws_url: str
    demo: DemoTenant
    data_dir: Path


@dataclass
class Cluster:
    nodes: list[ServerProcess]
    redis: PrivateRedis
    demo: DemoTenant
    database: str
    nginx: Nginx | None = None
    extra: list[ServerProcess] = field(default_factory=list)

    @property
    def a(self) -> ServerProcess:
        return self.nodes[0]

    @property
    def b(self) -> ServerProcess:
        return self.nodes[1]

    @property
    def front(self) -> Front:
        assert self.nginx is not None
        return Front(self.nginx.url, self.nginx.ws_url, self.demo, self.a.data_dir)


ClusterMaker = Callable[..., Cluster]


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[ClusterMaker]:
    made: list[Cluster] = []

    def make(nodes: int = 2, *, nginx: bool = False, env: dict[str, str] | None = None) -> Cluster:
        database = create_mysql_database()
        redis = PrivateRedis(tmp_path / f"redis{len(made)}")
        redis.start()
        env = {**OPEN_LIMITS, "STEADY_SECRET_KEY": secrets.token_urlsafe(32), **(env or {})}
        servers = [
            ServerProcess(
                tmp_path / f"node{len(made)}-{n}",
                database.url,
                env=env,
                redis_url=redis.url,
                name=f"node-{chr(ord('a') + n)}",
            )
            for n in range(nodes)
        ]
        cluster = Cluster(servers, redis, demo=None, database=database.name)  # type: ignore[arg-type]
        made.append(cluster)
        for server in servers:
            server.start()
        assert servers[0].demo is not None
        cluster.demo = servers[0].demo
        if nginx:
            cluster.nginx = Nginx(
                tmp_path / f"nginx{len(made)}", [f"127.0.0.1:{s.port}" for s in servers]
            )
            cluster.nginx.start()
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            if cluster.nginx:
                cluster.nginx.stop()
            for server in cluster.nodes:
                server.stop()
            cluster.redis.stop()
            drop_mysql_database(cluster.database)
