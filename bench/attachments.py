"""Attachments through a running node (issue #19): a pure protocol client.

``--visitors`` visitors (default 20) at once, each ``--rounds`` times: upload a 1 MB
image (``--format jpeg``, a photo, or ``png``, noise: the worst case) with
``POST /api/v1/attachments``, which decodes and re-encodes it, then fetch its bytes from
the signed URL. Reports upload and fetch latency p50/p90/p99 over every request, the
throughput, and the server's CPU per upload+fetch.

    python bench/attachments.py --spawn sqlite
    python bench/attachments.py --spawn mysql --visitors 20 --rounds 10
    python bench/attachments.py --store s3   # bytes in a bucket (moto, its own process)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import time
from typing import Any

import httpx
from _client import visitor_session
from _report import percentiles
from _server import DEFAULT_MYSQL_URL, CpuMeter, SpawnedServer, free_port
from PIL import Image


def one_megabyte_image(fmt: str) -> bytes:
    """About 1 MB. PNG: 600 x 580 pixels of noise (it does not compress: the worst case
    for the re-encoding). JPEG: a 1,660 x 1,250 photo-like gradient with noise, quality
    90 (what a phone sends)."""
    if fmt == "png":
        image = Image.frombytes("RGB", (600, 580), os.urandom(600 * 580 * 3))
    else:
        width, height = 1660, 1250
        noise = Image.frombytes("L", (width, height), os.urandom(width * height))
        gradient = Image.linear_gradient("L").resize((width, height))
        image = Image.merge("RGB", (gradient, noise.point(lambda v: v // 3 + 60), gradient))
    out = io.BytesIO()
    image.save(out, "PNG" if fmt == "png" else "JPEG", quality=90)
    return out.getvalue()


async def visitor(
    http: httpx.AsyncClient,
    site_key: str,
    data: bytes,
    rounds: int,
    uploads: list[float],
    fetches: list[float],
) -> None:
    token = await visitor_session(http, site_key)
    auth = {"authorization": f"Bearer {token}"}
    for n in range(rounds):
        started = time.perf_counter()
        resp = await http.post(
            "/api/v1/attachments",
            headers=auth,
            files={"file": (f"photo-{n}", data, "application/octet-stream")},
        )
        if resp.status_code != 201:
            raise RuntimeError(f"upload: {resp.status_code} {resp.text[:200]}")
        uploads.append(time.perf_counter() - started)
        started = time.perf_counter()
        got = await http.get(resp.json()["url"])
        if got.status_code != 200 or len(got.content) != resp.json()["size"]:
            raise RuntimeError(f"fetch: {got.status_code} {got.text[:200]}")
        fetches.append(time.perf_counter() - started)


class MotoProcess:
    """moto's S3 server in a process of its own (not this one's GIL), with one bucket. It
    is a Python emulator: its figures are an upper bound of what MinIO or S3 would cost."""

    BUCKET = "bench-attachments"

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> dict[str, str]:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        endpoint = f"http://127.0.0.1:{self.port}"
        import boto3  # a dev dependency, like moto

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                client.create_bucket(Bucket=self.BUCKET)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        return {
            "STEADY_ATTACHMENT_S3_BUCKET": self.BUCKET,
            "STEADY_ATTACHMENT_S3_ENDPOINT": endpoint,
            "STEADY_ATTACHMENT_S3_REGION": "us-east-1",
            "STEADY_ATTACHMENT_S3_KEY_ID": "bench",
            "STEADY_ATTACHMENT_S3_SECRET": "bench",
        }

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    moto = MotoProcess() if args.store == "s3" else None
    spawned = SpawnedServer(args.spawn, mysql_url=args.mysql_url)
    try:
        if moto:
            spawned.extra_env.update(moto.start())
        demo, _, _ = spawned.start()
        data = one_megabyte_image(args.format)
        limits = httpx.Limits(max_connections=args.visitors * 2)
        async with httpx.AsyncClient(
            base_url=spawned.url, timeout=120, trust_env=False, limits=limits
        ) as http:
            # Warm-up: one upload and fetch (imports, first connections).
            await visitor(http, demo.site_key, data, 1, [], [])
            uploads: list[float] = []
            fetches: list[float] = []
            cpu = CpuMeter(spawned.pid, None)
            before = cpu.sample()
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    visitor(http, demo.site_key, data, args.rounds, uploads, fetches)
                    for _ in range(args.visitors)
                )
            )
            seconds = time.perf_counter() - started
            after = cpu.sample()
        pairs = args.visitors * args.rounds
        return {
            "backend": args.spawn,
            "store": args.store,
            "visitors": args.visitors,
            "rounds": args.rounds,
            "format": args.format,
            "image_bytes": len(data),
            "seconds": round(seconds, 2),
            "uploads_per_s": round(pairs / seconds, 1),
            "upload_ms": percentiles(uploads),
            "fetch_ms": percentiles(fetches),
            "server_cpu_ms_per_upload_and_fetch": round(
                ((after[0] or 0.0) - (before[0] or 0.0)) * 1000 / pairs, 1
            ),
        }
    finally:
        spawned.stop()
        if moto:
            moto.stop()


def human(r: dict[str, Any]) -> str:
    def pct(p: dict[str, Any]) -> str:
        return f"p50 {p['p50']} ms, p90 {p['p90']} ms, p99 {p['p99']} ms, max {p['max']} ms"

    return "\n".join(
        [
            f"attachments on {r['backend']}, store {r['store']}: "
            f"{r['visitors']} visitors x {r['rounds']} rounds, "
            f"{r['image_bytes']} byte {r['format'].upper()}; {r['uploads_per_s']} upload+fetch/s",
            "upload: " + pct(r["upload_ms"]),
            "fetch:  " + pct(r["fetch_ms"]),
            f"server CPU per upload+fetch: {r['server_cpu_ms_per_upload_and_fetch']} ms",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--spawn", choices=["sqlite", "mysql"], default="sqlite")
    p.add_argument("--mysql-url", default=DEFAULT_MYSQL_URL)
    p.add_argument("--visitors", type=int, default=20)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--format", choices=["jpeg", "png"], default="jpeg")
    p.add_argument(
        "--store",
        choices=["db", "s3"],
        default="db",
        help="where the bytes go: the database, or an S3 bucket (moto)",
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=1) if args.json else human(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
