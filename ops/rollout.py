"""Upgrades without losing a message: blue/green node groups, gray shares, drains.

``deploy`` puts a release on the idle group, migrates (expand only: the live release keeps
serving on the new schema), starts the group and sends it a share of visitors (``--gray``)
or everyone. ``promote`` and ``rollback`` make one group live: nginx first sends every new
request there (and fab waits until it does), then the other group's nodes stop one at a
time. A stopping node closes its WebSockets with 1012 after its commits; clients reconnect
through nginx to the live group and resume from their last seq, resending what was not
acked under the same cid, so nothing acked is lost and nothing is stored twice.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from ops.build import build_release, uncommitted_changes
from ops.checks import wait_healthy
from ops.deployment import Deployment, Gray, load_deployment, save_deployment
from ops.facts import HostFacts, gather
from ops.layout import CURRENT_LINK, RELEASES_DIR, Slot, other, slot_link
from ops.release import create_release, find_release, migrate, point, prune, steadydesk
from ops.remote import CommandFailed, Host, Outcome, StepFailed, changed, unchanged
from ops.services import Supervisor, supervisor_for
from ops.site import apply_site


@dataclass
class Context:
    host: Host
    facts: HostFacts
    supervisor: Supervisor
    deployment: Deployment


def open_host(host: Host, step: str = "host") -> Context:
    """The host's facts and deployment record; fails when fab install never ran there."""
    with host.failing_as(step):
        facts = gather(host)
        deployment = load_deployment(host)
    if deployment is None or deployment.live is None:
        raise StepFailed(host.name, step, "Steadydesk is not installed here: run fab install first")
    return Context(host, facts, supervisor_for(host, facts.systemd, facts.hostname), deployment)


def _route(ctx: Context) -> Outcome:
    """Write the nginx site for the deployment as it now is, and wait until nginx serves it."""
    return apply_site(ctx.host, ctx.deployment, ctx.facts.ipv6, ctx.supervisor)


def _start_group(ctx: Context, slot: Slot) -> None:
    ctx.supervisor.install(ctx.deployment)
    wait_healthy(ctx.host, ctx.deployment.nodes_of(slot))


def _drain(ctx: Context, slot: Slot) -> list[str]:
    """Stop the group's nodes one at a time (each closes its clients with 1012)."""
    stopped = []
    for port in ctx.deployment.nodes_of(slot):
        if ctx.supervisor.running(slot, port):
            ctx.supervisor.stop_node(slot, port)
            stopped.append(str(port))
    ctx.supervisor.install(ctx.deployment)  # supervisord forgets the stopped programs
    return stopped


def _site_pins(ctx: Context, pin_old: list[str], pin_new: list[str], new: Slot) -> dict[str, Slot]:
    """Visitors carry their site key, not their tenant: pin each pinned tenant's sites."""
    pins: dict[str, Slot] = {}
    assert ctx.deployment.live is not None
    for tenants, slot in ((pin_old, ctx.deployment.live), (pin_new, new)):
        for tenant in tenants:
            try:
                shown = steadydesk(ctx.host, CURRENT_LINK, f"tenant show {shlex.quote(tenant)}")
            except CommandFailed as err:
                raise StepFailed(ctx.host.name, "pins", err.output) from None
            for site in json.loads(shown)["sites"]:
                pins[site["site_key"]] = slot
    return pins


def deploy(host: Host, ref: str, gray: float | None, pin_old: list[str], pin_new: list[str]) -> str:
    ctx = open_host(host)
    d = ctx.deployment
    assert d.live is not None
    if d.gray:
        raise StepFailed(
            host.name,
            "deploy",
            f"a gray rollout of {d.release_of(d.gray.slot)} is in progress "
            "(fab status): fab promote or fab rollback first",
        )
    new = other(d.live)
    names: dict[str, str] = {}

    def release() -> Outcome:
        if uncommitted_changes():
            host.say(
                f"release: note: built from the commit of {ref}; "
                "uncommitted changes are not included"
            )
        build = build_release(ref)
        existing = find_release(host, build.commit)
        if existing:
            names["release"] = existing
            point(host, slot_link(new), existing)
            return changed(f"the {new} group gets {existing}, already built from {build.short}")
        names["release"] = create_release(host, build, ctx.facts)
        point(host, slot_link(new), names["release"])
        return changed(f"built {names['release']} from {ref} ({build.short}) for the {new} group")

    def migrations() -> Outcome:
        applied = migrate(host, slot_link(new))
        return changed(f"applied {'; '.join(applied)}") if applied else unchanged("none pending")

    def pins() -> Outcome:
        site_pins = _site_pins(ctx, pin_old, pin_new, new)
        d.gray = Gray(new, 100.0 if gray is None else gray, pin_old, pin_new, site_pins)
        d.releases[new] = names["release"]
        save_deployment(host, d)
        tenants = len(pin_old) + len(pin_new)
        return (
            changed(f"{tenants} tenant(s) pinned, {len(site_pins)} site key(s)")
            if tenants
            else unchanged("no tenants pinned")
        )

    def start() -> Outcome:
        _start_group(ctx, new)
        return changed(f"{new} nodes {', '.join(map(str, d.nodes_of(new)))} healthy")

    def route() -> Outcome:
        _route(ctx)
        assert d.gray is not None
        share = "all visitors" if d.gray.percent >= 100 else f"{d.gray.percent:g}% of visitors"
        return changed(f"nginx sends {share} to {new}")

    host.step("release", release)
    host.step("schema migrations (expand)", migrations)
    host.step("pins", pins)
    try:
        host.step(f"start {new} group", start)
        host.step("routing", route)
    except StepFailed as err:
        raise StepFailed(
            err.host,
            err.step,
            f"{err.detail} (the {new} group may be running without traffic: fab rollback stops it)",
        ) from None
    if gray is None:
        promote(host, ctx)
    else:
        host.say(f"gray: {gray:g}% of visitors on {names['release']}; fab promote or fab rollback")
    return names["release"]


def _switch_live(ctx: Context, to: Slot, verb: str) -> None:
    """Send everything to ``to``, then drain the other group; ``current`` follows."""
    host, d = ctx.host, ctx.deployment
    old = other(to)
    d.live, d.gray = to, None
    d.rolled_back = verb == "rollback"
    release = d.release_of(to)
    assert release is not None

    def route() -> Outcome:
        _route(ctx)
        save_deployment(host, d)
        return changed(f"nginx sends everyone to {to} ({release})")

    def drain() -> Outcome:
        stopped = _drain(ctx, old)
        if not stopped:
            return unchanged(f"{old} group was not running")
        return changed(f"stopped {old} nodes {', '.join(stopped)} one by one (clients got 1012)")

    def link() -> Outcome:
        point(host, CURRENT_LINK, release)
        pruned = prune(host, {r for r in d.releases.values() if r})
        note = f"; removed {len(pruned)} old release(s)" if pruned else ""
        return changed(f"{CURRENT_LINK} -> {RELEASES_DIR}/{release}{note}")

    host.step(f"{verb}: routing", route)
    host.step(f"{verb}: drain {old}", drain)
    host.step(f"{verb}: current release", link)


def promote(host: Host, ctx: Context | None = None) -> None:
    ctx = ctx or open_host(host)
    gray = ctx.deployment.gray
    if gray is None:
        raise StepFailed(host.name, "promote", "no gray rollout in progress (fab status)")
    _switch_live(ctx, gray.slot, "promote")


def rollback(host: Host) -> None:
    ctx = open_host(host)
    d = ctx.deployment
    assert d.live is not None
    if d.gray:
        # The new group never became live: back to the live group alone.
        _switch_live(ctx, d.live, "rollback")
        return
    back = other(d.live)
    release = d.release_of(back)
    if d.rolled_back:
        raise StepFailed(
            host.name,
            "rollback",
            f"already rolled back to {d.release_of(d.live)}; the {back} group holds {release}, "
            "the release rolled back from. To move on: fab deploy --ref REF",
        )
    if not release or not host.ok(f"test -f {RELEASES_DIR}/{release}/.complete"):
        raise StepFailed(host.name, "rollback", "no previous release to roll back to")

    def start() -> Outcome:
        d.gray = Gray(back, 0.0)  # running, but sent nothing until the switch
        _start_group(ctx, back)
        return changed(f"{back} nodes on {release} healthy")

    host.step(f"rollback: start {back} group", start)
    _switch_live(ctx, back, "rollback")


def restart(host: Host) -> None:
    """Restart every running node, one at a time, each healthy before the next."""
    ctx = open_host(host)
    for slot in ctx.deployment.running_slots():
        for port in ctx.deployment.nodes_of(slot):

            def one(slot: Slot = slot, port: int = port) -> Outcome:
                ctx.supervisor.restart_node(slot, port)
                wait_healthy(host, [port])
                return changed("restarted, healthy")

            host.step(f"restart {slot} node {port}", one)


def routing_summary(deployment: Deployment) -> str:
    live = deployment.live
    gray = deployment.gray
    if gray is None:
        return f"everyone on {live} ({deployment.release_of(live) if live else '-'})"
    pins = []
    if gray.pin_old:
        pins.append(f"pinned to {live}: {', '.join(gray.pin_old)}")
    if gray.pin_new:
        pins.append(f"pinned to {gray.slot}: {', '.join(gray.pin_new)}")
    return (
        f"gray: {gray.percent:g}% of visitors on {gray.slot} ({deployment.release_of(gray.slot)}),"
        f" the rest on {live} ({deployment.release_of(live) if live else '-'})"
        + (f"; {'; '.join(pins)}" if pins else "")
    )
