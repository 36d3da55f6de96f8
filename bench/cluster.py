"""Chat pairs over 1, 2 and 3 nodes behind nginx, sharing one MariaDB and one Redis.

    python bench/cluster.py                      # nodes 1 2 3, 50 pairs x 200 messages
    python bench/cluster.py --nodes 1 2 --pairs 20 --messages 100

Each size runs `chat_pairs.py --url <nginx>` with one agent identity per pair. Prints
acked msg/s and send->deliver p50/p99 per cluster size.
Starts and stops its own redis-server, nodes and nginx (by pid), and drops its database.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from _server import (  # noqa: E402
    _mysql_connect,
    create_agents,
    free_port,
    run_demo,
    wait_healthy,
)

from tests.support.nginx import Nginx  # noqa: E402
from tests.support.redis_server import PrivateRedis  # noqa: E402

MYSQL_URL = "mysql://root@127.0.0.1:3306"


def _node(env: dict[str, str], work: Path, port: int) -> subprocess.Popen[bytes]:
    log = open(work / f"node-{port}.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        env={**env, "STEADY_NODE": f"bench-{port}"},
        stdout=log,
        stderr=log,
    )
    wait_healthy(f"http://127.0.0.1:{port}", proc, work / f"node-{port}.log")
    return proc


def run(args: argparse.Namespace) -> list[dict[str, object]]:
    database = "steadybench_" + secrets.token_hex(5)
    admin = _mysql_connect(MYSQL_URL)
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    work = Path(tempfile.mkdtemp(prefix="steadybench-cluster-"))
    redis = PrivateRedis(work / "redis")
    redis.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STEADY_")},
        "STEADY_DATA_DIR": str(work / "data"),
        "STEADY_DATABASE_URL": f"{MYSQL_URL}/{database}",
        "STEADY_REDIS_URL": redis.url,
        "STEADY_SECRET_KEY": secrets.token_urlsafe(32),
        "STEADY_CONN_RATE_IP": "1000000",
        "STEADY_WS_RATE_VISITOR": "1000000",
        "STEADY_WS_RATE_AGENT": "1000000",
    }
    results = []
    try:
        demo = run_demo(env)
        agents, why = create_agents(env, demo.tenant, args.pairs)
        if not agents:
            raise SystemExit(f"cannot create agents: {why}")
        demo_file = work / "demo.json"
        demo_file.write_text(
            json.dumps(
                {
                    "tenant": demo.tenant,
                    "site_key": demo.site_key,
                    "admin": {"email": demo.admin.email, "password": demo.admin.password},
                    "agents": [{"email": a.email, "password": a.password} for a in agents],
                }
            )
        )
        for count in args.nodes:
            ports = [free_port() for _ in range(count)]
            nodes = [_node(env, work, port) for port in ports]
            nginx = Nginx(work / f"nginx-{count}", [f"127.0.0.1:{p}" for p in ports])
            nginx.start()
            try:
                done = subprocess.run(
                    [
                        sys.executable,
                        str(REPO_ROOT / "bench" / "chat_pairs.py"),
                        "--url",
                        nginx.url,
                        "--demo-json",
                        str(demo_file),
                        "--agents",
                        "shared",
                        "--pairs",
                        str(args.pairs),
                        "--messages",
                        str(args.messages),
                        "--json",
                    ],
                    cwd=REPO_ROOT,
                    capture_output=True,
                    text=True,
                    timeout=900,
                    check=False,
                )
                if done.returncode != 0:
                    raise SystemExit(f"chat_pairs failed on {count} nodes: {done.stderr[-2000:]}")
                report = json.loads(done.stdout[done.stdout.find("{") :])
                closed = report["closed"]
                results.append(
                    {
                        "nodes": count,
                        "acked_per_s": closed.get("acked_per_s"),
                        "deliver_p50_ms": closed.get("send_to_deliver_ms", {}).get("p50"),
                        "deliver_p99_ms": closed.get("send_to_deliver_ms", {}).get("p99"),
                    }
                )
                print(json.dumps(results[-1]), flush=True)
            finally:
                nginx.stop()
                for node in nodes:
                    node.terminate()
                    node.wait(30)
    finally:
        redis.stop()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
        admin.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--messages", type=int, default=200)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
