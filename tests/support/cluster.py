"""Three nodes behind nginx that a test can use as if they were one server.

``STEADY_TEST_TOPOLOGY=cluster3`` makes the ``server`` fixtures hand out a
``ClusterServer`` instead of a ``ServerProcess``: three node processes on one fresh
MariaDB database and a private redis-server, with Debian's nginx in front. Its ``url``,
``ws_url`` and ``port`` are nginx's, so every client goes through the balancer and
consecutive connections of one test land on different nodes.

What "the server" does to its process means the whole service here: ``kill9()`` kills
every node (a crash of the service), ``restart()`` starts them all again, and
``terminate()`` shuts them all down gracefully. Killing one node while the others serve
is ``kill_node(i)``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from tests.support.nginx import Nginx
from tests.support.redis_server import PrivateRedis
from tests.support.server import DemoTenant, ServerProcess

TOPOLOGY_ENV = "STEADY_TEST_TOPOLOGY"
CLUSTER3 = "cluster3"
NODES = 3


def cluster_mode() -> bool:
    return os.environ.get(TOPOLOGY_ENV, "") == CLUSTER3


class ClusterServer:
    """Duck-types ``ServerProcess`` for the protocol suite (addresses are nginx's)."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str,
        *,
        env: Mapping[str, str] | None = None,
        name: str = "cluster",
        nodes: int = NODES,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.database_url = database_url
        self.name = name
        self.redis = PrivateRedis(self.data_dir / "redis")
        shared = {"STEADY_SECRET_KEY": secrets.token_urlsafe(32), **(env or {})}
        self.nodes = [
            ServerProcess(
                self.data_dir / f"node-{chr(ord('a') + n)}",
                database_url,
                env=shared,
                redis_url=self.redis.url,
                name=f"{name}-{chr(ord('a') + n)}",
            )
            for n in range(nodes)
        ]
        self.nginx = Nginx(self.data_dir / "nginx", [f"127.0.0.1:{s.port}" for s in self.nodes])

    # ------------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        return self.nginx.url

    @property
    def ws_url(self) -> str:
        return self.nginx.ws_url

    @property
    def port(self) -> int:
        return self.nginx.port

    @property
    def demo(self) -> DemoTenant | None:
        return self.nodes[0].demo

    @property
    def node_names(self) -> set[str]:
        return {node.node_name for node in self.nodes}

    @property
    def redis_url(self) -> str:
        return self.redis.url

    @property
    def extra_env(self) -> dict[str, str]:
        return self.nodes[0].extra_env

    @property
    def env(self) -> dict[str, str]:
        """The environment of a command run beside the cluster (the first node's)."""
        return self.nodes[0].env

    def run_demo(self, tenant: str | None = None) -> DemoTenant:
        return self.nodes[0].run_demo(tenant)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self.redis.proc is None:
            self.redis.start()
        first = self.nodes[0]
        first.start()
        for node in self.nodes[1:]:
            node.demo = first.demo  # one database: seeded once
            node.start()
        if self.nginx.proc is None:
            self.nginx.start()

    def stop(self) -> int | None:
        codes = [node.stop() for node in self.nodes]
        self.nginx.stop()
        self.redis.stop()
        return codes[0]

    def kill9(self) -> None:
        for node in self.nodes:
            node.kill9()

    def kill_node(self, index: int) -> None:
        self.nodes[index].kill9()

    def restart(self) -> None:
        for node in self.nodes:
            node.restart()

    def terminate(self) -> None:
        for node in self.nodes:
            node.terminate()

    def wait(self, timeout: float) -> int | None:
        codes = [node.wait(timeout) for node in self.nodes]
        return None if None in codes else codes[0]

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)

    async def astop(self) -> int | None:
        return await asyncio.to_thread(self.stop)

    async def arestart(self) -> None:
        await asyncio.to_thread(self.restart)

    async def akill9(self) -> None:
        await asyncio.to_thread(self.kill9)

    # ------------------------------------------------------------------ diagnostics

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(node.log_tail(lines) for node in self.nodes)

    def log_text(self) -> str:
        return "\n".join(node.log_text() for node in self.nodes)

    def __repr__(self) -> str:
        return f"<ClusterServer {self.name} {self.url} nodes={[n.port for n in self.nodes]}>"
