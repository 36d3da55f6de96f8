"""Figures and the human-readable report of bench/chat_pairs.py."""

from __future__ import annotations

import math
from typing import Any

CpuSample = tuple[float | None, float | None, float]  # server s, database s, generator s


def percentiles(values: list[float]) -> dict[str, float | None]:
    """Nearest-rank p50/p90/p99/max, in milliseconds."""
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000, 2)

    return {"p50": rank(50), "p90": rank(90), "p99": rank(99), "max": round(ordered[-1] * 1000, 2)}


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def cpu_figures(before: CpuSample, after: CpuSample, per: int) -> dict[str, Any]:
    (s0, d0, g0), (s1, d1, g1) = before, after
    out: dict[str, Any] = {"generator_cpu_s": round(g1 - g0, 3)}
    for name, a, b in (("server", s0, s1), ("db", d0, d1)):
        if a is not None and b is not None:
            out[f"{name}_cpu_s"] = round(b - a, 3)
            out[f"{name}_cpu_us_per_msg"] = round((b - a) / per * 1e6, 1) if per else None
    return out


def ms_since(mark: float | None, since: float) -> float | None:
    return round((mark - since) * 1000, 1) if mark is not None else None


def _pct(p: dict[str, float | None]) -> str:
    return "  ".join(f"{k} {v}" for k, v in p.items()) + " ms"


def _cpu_line(r: dict[str, Any]) -> str:
    parts = []
    if "server_cpu_s" in r:
        parts.append(f"server {r['server_cpu_s']} s = {r['server_cpu_us_per_msg']} µs/msg")
    if "db_cpu_s" in r:
        parts.append(f"database {r['db_cpu_s']} s = {r['db_cpu_us_per_msg']} µs/msg")
    parts.append(f"load generator {r['generator_cpu_s']} s")
    return "; ".join(parts)


def human(result: dict[str, Any]) -> str:
    cfg = result["config"]
    lines = [
        f"steadydesk chat-pairs against {cfg['url']} ({cfg['backend']}), "
        f"{cfg['pairs'] if {'closed', 'open'} & set(cfg['modes']) else 1} pairs, "
        f"body {cfg['body_bytes']} B, window {cfg['window']}, "
        f"{result.get('agent_identities')} agent identities",
    ]
    if "agents_note" in result:
        lines.append(f"  note: {result['agents_note']}")
    if "agents_s" in result or "setup_s" in result:
        made = f"agents made in {result['agents_s']} s, " if "agents_s" in result else ""
        logins = f"logged in in {result['logins_s']} s" if "logins_s" in result else ""
        pairs = f", pairs set up in {result['setup_s']} s" if "setup_s" in result else ""
        lines.append(f"  setup: {made}{logins}{pairs}")
    if "setup_frames_per_agent" in result:
        routing = f", routing {result['routing']}" if "routing" in result else ""
        frames = result["setup_frames_per_agent"]
        lines.append(f"  setup frames    {frames} per agent connection{routing}")
    for key, title in (("closed", "closed loop"), ("open", "open loop")):
        r = result.get(key)
        if not r:
            continue
        head = f"{title}: {r['sent']} sent, {r['acked']} acked, {r['delivered']} delivered"
        if key == "open":
            head += f" (offered {r['offered_per_s']}/s for {r['duration_s']} s"
            head += f", sent {r['sent_per_s']}/s)"
        lines += [
            head,
            f"  wall            {r['wall_s']} s",
            f"  acked           {r['acked_per_s']} msg/s",
            f"  delivered       {r['delivered_per_s']} msg/s",
            f"  send->ack       {_pct(r['send_to_ack_ms'])}",
            f"  send->deliver   {_pct(r['send_to_deliver_ms'])}",
            f"  CPU             {_cpu_line(r)}",
        ]
        if r.get("commits") is not None:
            lines.append(
                f"  commits         {r['commits']} ({r['messages_per_commit']} messages per commit)"
            )
        if "frames_per_agent" in r:
            lines.append(f"  frames/agent    {r['frames_per_agent']} (every frame, messages too)")
        if key == "open":
            lag = _pct(r["generator_lag_ms"])
            lines.append(f"  generator lag   {lag} (a late send still counts from its due time)")
        if r["errors"] or r["failed"]:
            lines.append(f"  errors          {r['errors']} ({r['failed']} sends failed)")
        if any(r["anomalies"].values()):
            lines.append(f"  anomalies       {r['anomalies']}")
        if not r["complete"]:
            lines.append(f"  INCOMPLETE: {r['problem']}")
        if key == "closed" and len(result.get("closed_rounds", ())) > 1:
            lines.append(
                "  rounds (delivered msg/s): "
                + ", ".join(str(x["delivered_per_s"]) for x in result["closed_rounds"])
                + " — median shown"
            )
    r = result.get("resume")
    if r:
        lines += [
            f"resume: {r['messages']} messages missed by the agent, "
            f"resumed from seq {r['resume_from_seq']}",
            f"  hello->welcome  {r['hello_to_welcome_ms']} ms",
            f"  hello->first    {r['hello_to_first_ms']} ms",
            f"  hello->last     {r['hello_to_last_ms']} ms  ({r['replayed']} replayed, "
            f"in order without duplicates: {r['in_order_no_duplicates']})",
            f"  CPU             {_cpu_line(r)}",
        ]
        if "frames_per_agent" in r:
            lines.append(f"  frames/agent    {r['frames_per_agent']} (every frame, messages too)")
        if not r["complete"]:
            lines.append("  INCOMPLETE: the replay did not bring every missed message")
    if "idle" in result:
        from _idle import human_idle

        lines += human_idle(result["idle"])
    return "\n".join(lines)
