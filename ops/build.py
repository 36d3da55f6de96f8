"""Releases are built here, on the controller, so hosts need neither git nor PyPI.

A release is the wheel of one commit of this repository (``git archive`` of the ref, so
uncommitted changes never ship) plus a wheelhouse of its dependencies for the host's
Python and C library. Both are cached under ``~/.cache/steadydesk-ops`` (or
``$XDG_CACHE_HOME``, or ``STEADY_OPS_CONTROLLER_CACHE``): a second deploy of the same
commit builds nothing, and a wheelhouse is downloaded once per dependency set and platform.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[1]
PIP_TIMEOUT_SECS = 900


class BuildFailed(Exception):
    """The controller could not build a release (one line for the sysadmin)."""


@dataclass(frozen=True)
class ReleaseBuild:
    ref: str
    commit: str
    wheel: Path

    @property
    def short(self) -> str:
        return self.commit[:8]

    @property
    def version(self) -> str:
        return self.wheel.name.split("-")[1]

    def requirements(self) -> list[str]:
        with zipfile.ZipFile(self.wheel) as wheel:
            name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
            metadata = wheel.read(name).decode()
        return sorted(
            line.split(":", 1)[1].strip()
            for line in metadata.splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line
        )


def cache_dir() -> Path:
    configured = os.environ.get("STEADY_OPS_CONTROLLER_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "steadydesk-ops"


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    path = cache_dir() / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(command: list[str], what: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=PIP_TIMEOUT_SECS,
            **kwargs,  # type: ignore[call-overload]
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BuildFailed(f"{what}: {err}") from None
    if result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        raise BuildFailed(f"{what}: {' | '.join(lines[-4:])}")
    return result


def resolve_commit(ref: str) -> str:
    if not (REPO_ROOT / ".git").exists():
        raise BuildFailed(f"{REPO_ROOT} is not a git checkout: clone the repository to deploy")
    result = _run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        f"no commit named {ref!r} in {REPO_ROOT}",
    )
    return result.stdout.strip()


def uncommitted_changes() -> bool:
    result = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return bool(result.stdout.strip())


def build_release(ref: str) -> ReleaseBuild:
    """The wheel of ``ref``'s commit, built once and cached."""
    commit = resolve_commit(ref)
    target = cache_dir() / "wheels" / commit
    with _locked("wheels"):
        found = sorted(target.glob("steadydesk-*.whl"))
        if found:
            return ReleaseBuild(ref, commit, found[0])
        with tempfile.TemporaryDirectory(prefix="steadydesk-build-") as tmp:
            source = Path(tmp) / "src"
            source.mkdir()
            archive = Path(tmp) / "src.tar"
            _run(
                [
                    "git",
                    "-C",
                    str(REPO_ROOT),
                    "archive",
                    "--format=tar",
                    "-o",
                    str(archive),
                    commit,
                ],
                f"git archive {commit[:8]}",
            )
            _run(["tar", "-xf", str(archive), "-C", str(source)], "unpacking the source")
            out = Path(tmp) / "dist"
            _run(
                [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out),
                 str(source)],
                f"building the wheel of {commit[:8]}",
            )  # fmt: skip
            wheels = sorted(out.glob("steadydesk-*.whl"))
            if not wheels:
                raise BuildFailed(f"pip built no steadydesk wheel for {commit[:8]}")
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(wheels[0], target / wheels[0].name)
        return ReleaseBuild(ref, commit, target / wheels[0].name)


@dataclass(frozen=True)
class TargetPython:
    """The host's interpreter: wheel tags and the values its environment markers see."""

    full_version: str  # e.g. 3.11.2
    machine: str  # e.g. x86_64
    platforms: tuple[str, ...]  # manylinux tags, newest first

    @property
    def version(self) -> str:
        return ".".join(self.full_version.split(".")[:2])

    def marker_environment(self) -> dict[str, str]:
        return {
            "python_version": self.version,
            "python_full_version": self.full_version,
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "sys_platform": "linux",
            "os_name": "posix",
            "platform_system": "Linux",
            "platform_machine": self.machine,
        }


def _download(target: TargetPython, dest: Path, requirements: list[str]) -> None:
    platform_args = [arg for tag in target.platforms for arg in ("--platform", tag)]
    _run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
         "--python-version", target.full_version, "--implementation", "cp", *platform_args,
         "--dest", str(dest), *requirements],
        f"downloading wheels for Python {target.full_version} ({', '.join(requirements)[:200]})",
    )  # fmt: skip


def _missing_for_target(dest: Path, target: TargetPython) -> list[str]:
    """Requirements the target needs that pip skipped: pip evaluates dependencies' markers
    for the controller's Python, not the target's (3.11.2 needs async-timeout, 3.11.7 not)."""
    have = {canonicalize_name(w.name.split("-")[0]) for w in dest.glob("*.whl")}
    environment = target.marker_environment()
    missing: set[str] = set()
    for wheel_path in dest.glob("*.whl"):
        with zipfile.ZipFile(wheel_path) as wheel:
            name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
            metadata = wheel.read(name).decode()
        for line in metadata.splitlines():
            if not line.startswith("Requires-Dist:"):
                continue
            requirement = Requirement(line.split(":", 1)[1].strip())
            if requirement.marker and not requirement.marker.evaluate({**environment, "extra": ""}):
                continue
            if canonicalize_name(requirement.name) not in have:
                requirement.marker = None
                missing.add(str(requirement))
    return sorted(missing)


def wheelhouse(build: ReleaseBuild, target: TargetPython) -> Path:
    """Binary wheels of every dependency for the target's Python and platform tags."""
    key_text = "\n".join([target.full_version, *target.platforms, *build.requirements()])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    directory = cache_dir() / "wheelhouse" / f"py{target.full_version}-{key}"
    with _locked("wheelhouse"):
        if (directory / ".complete").exists():
            return directory
        partial = directory.with_name(directory.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        _download(target, partial, [str(build.wheel)])
        for _ in range(10):  # each round can only add projects; the closure is small
            missing = _missing_for_target(partial, target)
            if not missing:
                break
            _download(target, partial, missing)
        for own in partial.glob("steadydesk-*.whl"):
            own.unlink()  # the release's own wheel travels separately
        (partial / ".complete").touch()
        shutil.rmtree(directory, ignore_errors=True)
        partial.rename(directory)
        return directory
