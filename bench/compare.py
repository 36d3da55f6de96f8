"""Interleaved comparison: every figure of chat_pairs.py against a bare Sanic relay, in one run.

On a shared machine the figures of two runs minutes apart differ more than most changes;
a ratio measured in the same run, with the targets taking turns (round 1: relay, SQLite,
MariaDB; round 2: the same again, ...), holds up much better (issue #17, item 5). Each
line also shows the load average when it started.

    python bench/compare.py                      # the issue's figures (minutes)
    python bench/compare.py --quick              # a few seconds per figure (CI)
    python bench/compare.py --before /tmp/main   # also a tree of the code before a change

Targets: `relay` (bench/relay.py), `sqlite` and `mysql` (this tree's node, spawned by
chat_pairs.py), and with `--before TREE` the same two from TREE's own bench/chat_pairs.py
(so TREE's server). It never fails on slow figures: it prints them. It exits non-zero only
when a run could not be made at all (and with --quick not even then: CI must not fail on
a machine too busy to bench).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _server import free_port, wait_healthy

HERE = Path(__file__).resolve().parent
STOP_SECS = 30.0  # for a chat_pairs run to stop its node


@dataclass(frozen=True)
class Figure:
    name: str
    args: tuple[str, ...]
    mode: str  # the chat_pairs JSON key: closed | open
    backends: tuple[str, ...] = ("sqlite", "mysql")


FULL = (
    Figure("closed K=50 x M=200", ("-K", "50", "-M", "200"), "closed"),
    Figure("closed K=500 x M=20", ("-K", "500", "-M", "20"), "closed", ("mysql",)),
    Figure(
        "open 1,000 msg/s, 20 s",
        ("-K", "50", "--rate", "1000", "--duration", "20"),
        "open",
        ("mysql",),
    ),
)
QUICK = (
    Figure("closed K=50 x M=100", ("-K", "50", "-M", "100"), "closed"),
    Figure(
        "open 500 msg/s, 3 s", ("-K", "20", "--rate", "500", "--duration", "3"), "open", ("mysql",)
    ),
)


def load_average() -> float:
    return os.getloadavg()[0]


def run_pairs(tree: Path, target: list[str], figure: Figure, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(tree / "bench" / "chat_pairs.py"), *target, *figure.args, "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            # SIGINT, not a kill: chat_pairs stops the node it spawned (and drops its
            # MariaDB database) on the way out.
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(STOP_SECS)
            except subprocess.TimeoutExpired:
                proc.kill()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])}: exit {proc.returncode}: {err[-600:]}")
    return json.loads(out.strip().splitlines()[-1])


def _stop_on_sigterm() -> None:
    """`timeout` in CI sends SIGTERM: unwind, so the run in progress cleans up."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(f"bench: stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)


def run_relay(figure: Figure, timeout: float) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="steadybench-relay-") as tmp:
        demo = Path(tmp) / "demo.json"
        relay = subprocess.Popen(
            [sys.executable, str(HERE / "relay.py"), "--port", str(port), "--demo-json", str(demo)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, relay, None)
            target = ["--url", url, "--demo-json", str(demo), "--server-pid", str(relay.pid)]
            return run_pairs(HERE.parent, target, figure, timeout)
        finally:
            relay.terminate()
            relay.wait(10)


def summary(result: dict[str, Any], mode: str) -> dict[str, Any]:
    r = result.get(mode) or {}
    return {
        "msg_s": r.get("delivered_per_s"),
        "p99_ms": (r.get("send_to_deliver_ms") or {}).get("p99"),
        "server_us": r.get("server_cpu_us_per_msg"),
        "db_us": r.get("db_cpu_us_per_msg"),
        "complete": r.get("complete", False),
        "setup_s": result.get("setup_s"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few seconds per figure (CI)")
    p.add_argument("--rounds", type=int, help="turns per target (default 2, --quick 1)")
    p.add_argument("--before", type=Path, help="a tree of the code before a change")
    p.add_argument("--only", action="append", default=[], help="figures whose name has this")
    p.add_argument("--backends", default="sqlite,mysql")
    p.add_argument("--timeout", type=float, default=900.0, help="per run, seconds")
    p.add_argument("--json", type=Path, help="also write every run here")
    args = p.parse_args(argv)
    _stop_on_sigterm()
    figures = [
        f
        for f in (QUICK if args.quick else FULL)
        if not args.only or any(o in f.name for o in args.only)
    ]
    rounds = args.rounds or (1 if args.quick else 2)
    wanted = set(args.backends.split(","))
    rows: list[dict[str, Any]] = []
    failures = 0
    for figure in figures:
        targets: list[tuple[str, Path | None, str | None]] = [("relay", None, None)]
        for backend in figure.backends:
            if backend in wanted:
                targets.append((backend, HERE.parent, backend))
                if args.before:
                    targets.append((f"before {backend}", args.before, backend))
        for turn in range(rounds):
            for label, tree, backend in targets:
                load = load_average()
                started = time.monotonic()
                try:
                    if tree is None:
                        result = run_relay(figure, args.timeout)
                    else:
                        result = run_pairs(tree, ["--spawn", str(backend)], figure, args.timeout)
                except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError) as err:
                    failures += 1
                    print(f"bench: {figure.name} / {label}: not measured: {err}", file=sys.stderr)
                    continue
                row = {
                    "figure": figure.name,
                    "target": label,
                    "round": turn + 1,
                    "load": round(load, 1),
                }
                row.update(summary(result, figure.mode))
                row["run_s"] = round(time.monotonic() - started, 1)
                rows.append(row)
                print(_line(row), flush=True)
    print()
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0 if args.quick or not failures else 1


def _line(row: dict[str, Any]) -> str:
    db = f" + {row['db_us']} in MariaDB" if row.get("db_us") is not None else ""
    done = "" if row["complete"] else "  INCOMPLETE"
    return (
        f"{row['figure']:<26} {row['target']:<14} round {row['round']}: {row['msg_s']} msg/s, "
        f"p99 {row['p99_ms']} ms, server {row['server_us']} us/msg{db}, "
        f"setup {row['setup_s']} s (load {row['load']}){done}"
    )


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(statistics.median(values), 1) if values else None


def table(rows: list[dict[str, Any]]) -> str:
    """Medians per figure and target, and the ratio to the relay of the same figure."""
    out = [
        "| figure | target | msg/s (x relay) | p99 ms (x relay) | server us/msg "
        "| MariaDB us/msg | load |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for figure in dict.fromkeys(r["figure"] for r in rows):
        mine = [r for r in rows if r["figure"] == figure]
        relay = [r for r in mine if r["target"] == "relay"]
        base_rate, base_p99 = _median(relay, "msg_s"), _median(relay, "p99_ms")
        for target in dict.fromkeys(r["target"] for r in mine):
            of = [r for r in mine if r["target"] == target]
            rate, p99 = _median(of, "msg_s"), _median(of, "p99_ms")
            loads = "-".join(str(x) for x in sorted({r["load"] for r in of}))
            out.append(
                f"| {figure} | {target} | {rate} ({_ratio(rate, base_rate)}) | "
                f"{p99} ({_ratio(p99, base_p99)}) | {_median(of, 'server_us')} | "
                f"{_median(of, 'db_us') or '-'} | {loads} |"
            )
    return "\n".join(out)


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "-"
    return f"{value / base:.2f}x"


if __name__ == "__main__":
    sys.exit(main())
