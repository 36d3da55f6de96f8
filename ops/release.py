"""Releases on a host: ``releases/<stamp>`` virtualenvs installed from uploaded wheels.

A release directory is complete (``.complete``) or ignored; links to releases are swapped
atomically (``ln -sfn`` to a temporary name, then ``mv -T``), so a node never starts from
a half-made release and ``current`` is never missing.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

from ops.build import ReleaseBuild, wheelhouse
from ops.facts import HostFacts, python_version
from ops.layout import (
    CONFIG_FILE,
    RELEASE_WHEELS_DIR,
    RELEASES_DIR,
    SERVICE_USER,
    WHEELHOUSE_DIR,
)
from ops.remote import CommandFailed, Host

PIP_TIMEOUT_SECS = 1200
KEEP_RELEASES = 5


def upload_wheels(host: Host, build: ReleaseBuild, facts: HostFacts) -> int:
    """Copy the dependency wheels the host lacks, and the release's own; returns how many."""
    local = wheelhouse(build, facts.target_python(python_version(host, facts)))
    own_dir = f"{RELEASE_WHEELS_DIR}/{build.commit}"
    host.run(f"install -d -m 755 {WHEELHOUSE_DIR} {own_dir}")
    present = set(host.run(f"ls -1 {WHEELHOUSE_DIR} {own_dir}").split())
    sent = 0
    for wheel in sorted(local.glob("*.whl")):
        if wheel.name not in present:
            host.upload(str(wheel), f"{WHEELHOUSE_DIR}/{wheel.name}")
            sent += 1
    if build.wheel.name not in present:
        host.upload(str(build.wheel), f"{own_dir}/{build.wheel.name}")
        sent += 1
    return sent


def create_release(host: Host, build: ReleaseBuild, facts: HostFacts) -> str:
    """A new complete release of ``build``; returns its name (``<UTC stamp>-<commit>``)."""
    upload_wheels(host, build, facts)
    name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{build.short}"
    path = f"{RELEASES_DIR}/{name}"
    wheel = f"{RELEASE_WHEELS_DIR}/{build.commit}/{build.wheel.name}"
    host.run(f"install -d -m 755 {RELEASES_DIR} && rm -rf {path}")
    host.run(f"{facts.python.executable} -m venv {path}/venv")
    host.run(
        f"{path}/venv/bin/pip install --quiet --no-index --no-cache-dir "
        f"--find-links {WHEELHOUSE_DIR} {wheel}",
        timeout=PIP_TIMEOUT_SECS,
    )
    record = {
        "name": name,
        "commit": build.commit,
        "ref": build.ref,
        "version": build.version,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    host.write(f"{path}/release.json", json.dumps(record, indent=2) + "\n")
    host.run(f"touch {path}/.complete")
    return name


def find_release(host: Host, commit: str) -> str | None:
    """The newest complete release of ``commit`` on the host: releases never change, so
    both groups may run the same one."""
    script = (
        f"cd {RELEASES_DIR} 2>/dev/null || exit 0; "
        f'for r in $(ls -1r); do [ -f $r/.complete ] && grep -q \'"commit": "{commit}"\' '
        "$r/release.json 2>/dev/null && echo $r && break; done; true"
    )
    found = host.run(script).strip()
    return found or None


def release_info(host: Host, name: str) -> dict[str, str] | None:
    text = host.read(f"{RELEASES_DIR}/{name}/release.json")
    if text is None or not host.ok(f"test -f {RELEASES_DIR}/{name}/.complete"):
        return None
    info: dict[str, str] = json.loads(text)
    return info


def point(host: Host, link: str, release: str) -> bool:
    """Make ``link`` point at ``release`` atomically; True when it changed."""
    target = f"{RELEASES_DIR}/{release}"
    current = host.run(f"readlink {shlex.quote(link)} || true").strip()
    if current == target:
        return False
    parent = str(Path(link).parent)
    tmp = f"{link}.new"
    host.run(f"install -d -m 755 {parent} && ln -sfn {target} {tmp} && mv -T {tmp} {link}")
    return True


def steadydesk(host: Host, release_dir: str, args: str, *, input: str | None = None) -> str:
    """Run the ``steadydesk`` CLI of a release as the service user, with the host's config."""
    return host.run(
        f"cd / && runuser -u {SERVICE_USER} -- {release_dir}/venv/bin/steadydesk "
        f"--config {CONFIG_FILE} {args} 2>&1",
        input=input,
    )


def migrate(host: Host, release_dir: str) -> list[str]:
    """Apply pending migrations with this release; returns the ones applied."""
    output = steadydesk(host, release_dir, "migrate")
    return [line.split("applying migration", 1)[1].strip() for line in output.splitlines()
            if "applying migration" in line]  # fmt: skip


def prune(host: Host, keep: set[str]) -> list[str]:
    """Remove old releases beyond the newest ``KEEP_RELEASES``, never one in ``keep``."""
    try:
        names = host.run(f"ls -1 {RELEASES_DIR}").split()
    except CommandFailed:
        return []
    old = [n for n in sorted(names)[:-KEEP_RELEASES] if n not in keep]
    for name in old:
        host.run(f"rm -rf {RELEASES_DIR}/{shlex.quote(name)}")
    return old
