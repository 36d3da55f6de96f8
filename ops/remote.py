"""One host over SSH: commands as root, files written only when they differ, steps reported.

Every step prints what it does and what it changed. A failure becomes ``StepFailed``
naming the step and the host's own error (the command's exit status and the end of its
output), which the task turns into one line on stderr and a non-zero exit: no Python
traceback for anything a host can do wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import paramiko
from fabric import Connection
from invoke.exceptions import CommandTimedOut

# What a host, its sshd or the network can throw at us: reported, never a traceback.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    paramiko.SSHException,
    socket.error,  # includes paramiko's NoValidConnectionsError, timeouts, refusals
    EOFError,
)


class StepFailed(Exception):
    def __init__(self, host: str, step: str, detail: str) -> None:
        super().__init__(f"{host}: {step} failed: {detail}")
        self.host = host
        self.step = step
        self.detail = detail


class CommandFailed(Exception):
    def __init__(self, summary: str, exited: int, output: str) -> None:
        super().__init__(f"`{summary}` exited {exited}: {output}")
        self.exited = exited
        self.output = output


@dataclass(frozen=True)
class Outcome:
    changed: bool
    message: str


def changed(message: str) -> Outcome:
    return Outcome(True, message)


def unchanged(message: str) -> Outcome:
    return Outcome(False, message)


def _tail(text: str, lines: int = 6, chars: int = 800) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-chars:]


def _summary(command: str) -> str:
    first = command.strip().splitlines()[0] if command.strip() else command
    return first if len(first) <= 100 else first[:97] + "..."


@dataclass
class Host:
    """A host reached through Fabric. ``changes`` lists what the current task changed."""

    connection: Connection
    out: TextIO = field(default_factory=lambda: sys.stdout)
    changes: list[str] = field(default_factory=list)
    _is_root: bool | None = None

    @property
    def name(self) -> str:
        return str(self.connection.original_host or self.connection.host)

    @property
    def address(self) -> str:
        return str(self.connection.host)

    # ------------------------------------------------------------------ reporting

    def say(self, message: str) -> None:
        print(f"[{self.name}] {message}", file=self.out, flush=True)

    def step(self, name: str, action: Callable[[], Outcome]) -> Outcome:
        """Run one step: announce it, run it, report what changed (or fail naming it)."""
        self.say(f"{name} ...")
        started = time.monotonic()
        with self.failing_as(name):
            outcome = action()
        took = time.monotonic() - started
        timing = f" ({took:.0f} s)" if took >= 2 else ""
        if outcome.changed:
            self.changes.append(f"{name}: {outcome.message}")
            self.say(f"{name}: {outcome.message}{timing}")
        else:
            self.say(f"{name}: ok, {outcome.message}{timing}")
        return outcome

    @contextlib.contextmanager
    def failing_as(self, step: str) -> Iterator[None]:
        try:
            yield
        except StepFailed:
            raise
        except CommandFailed as err:
            raise StepFailed(self.name, step, str(err)) from None
        except CommandTimedOut as err:
            raise StepFailed(self.name, step, f"timed out after {err.timeout} s") from None
        except paramiko.AuthenticationException as err:
            raise StepFailed(
                self.name, step, f"SSH login refused ({err}); pass a key with -i or use ssh-agent"
            ) from None
        except CONNECTION_ERRORS as err:
            raise StepFailed(
                self.name, step, f"cannot reach the host over SSH: {err or type(err).__name__}"
            ) from None

    # ------------------------------------------------------------------ commands

    def _root(self) -> bool:
        if self._is_root is None:
            result = self.connection.run("id -u", hide=True, warn=True, in_stream=False)
            self._is_root = result.stdout.strip() == "0"
        return self._is_root

    def run(
        self,
        command: str,
        *,
        input: str | None = None,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        """Run as root (through ``sudo -n`` for another login) and return stdout.

        Secrets go through ``input`` or ``env``, never in ``command``: commands appear in
        error messages, and in ``ps`` on the host.
        """
        if input is not None and env:
            raise ValueError("env and input cannot be combined")
        kwargs: dict[str, Any] = {
            "hide": True,
            "warn": True,
            "timeout": timeout,
            "in_stream": False,
        }
        if input is None and not env:
            wrapped = command if self._root() else f"sudo -n -- sh -c {shlex.quote(command)}"
            result = self.connection.run(wrapped, **kwargs)
        else:
            # Staged as a file in a fresh 0700 directory (invoke feeds in_stream one byte
            # per 10 ms), so secrets stay out of ps and of the error messages.
            stage = self._stage()
            try:
                if env:
                    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
                    self.connection.put(
                        io.BytesIO(f"{exports}{command}\n".encode()), f"{stage}/run"
                    )
                    script = f"sh {stage}/run"
                else:
                    self.connection.put(io.BytesIO((input or "").encode()), f"{stage}/stdin")
                    script = f"sh -c {shlex.quote(command)} < {stage}/stdin"
                wrapped = script if self._root() else f"sudo -n -- sh -c {shlex.quote(script)}"
                result = self.connection.run(wrapped, **kwargs)
            finally:
                self.connection.run(
                    f"rm -rf {shlex.quote(stage)}", hide=True, warn=True, in_stream=False
                )
        if result.exited != 0:
            raise CommandFailed(
                _summary(command), result.exited, _tail(result.stderr or result.stdout)
            )
        return str(result.stdout)

    def _stage(self) -> str:
        """A fresh directory only the login user can read (mktemp -d makes it 0700)."""
        result = self.connection.run(
            "mktemp -d /tmp/steadydesk.XXXXXXXX", hide=True, warn=True, in_stream=False
        )
        if result.exited != 0:
            raise CommandFailed("mktemp -d", result.exited, _tail(result.stderr))
        return str(result.stdout.strip())

    def ok(self, command: str) -> bool:
        """Whether ``command`` exits 0 (its output is not kept)."""
        try:
            self.run(command)
        except CommandFailed:
            return False
        return True

    # ------------------------------------------------------------------ files

    def read(self, path: str) -> str | None:
        try:
            return self.run(f"cat {shlex.quote(path)}")
        except CommandFailed:
            return None

    def _stat(self, path: str) -> str | None:
        try:
            return self.run(f"stat -c '%a %U %G' {shlex.quote(path)}").strip()
        except CommandFailed:
            return None

    def write(
        self,
        path: str,
        content: str | bytes,
        *,
        mode: int = 0o644,
        owner: str = "root",
        group: str | None = None,
    ) -> bool:
        """Make ``path`` hold ``content`` with this mode and owner; True when it changed."""
        data = content.encode() if isinstance(content, str) else content
        group = group or owner
        wanted_meta = f"{mode:o} {owner} {group}"
        digest = hashlib.sha256(data).hexdigest()
        quoted = shlex.quote(path)
        current = self.run(f"sha256sum {quoted} 2>/dev/null | cut -d' ' -f1 || true").strip()
        if current == digest and self._stat(path) == wanted_meta:
            return False
        # Staged in a fresh 0700 directory, so a secret is never readable on its way.
        stage = self._stage()
        try:
            self.connection.put(io.BytesIO(data), f"{stage}/file")
            self.run(f"install -D -m {mode:o} -o {owner} -g {group} {stage}/file {quoted}")
        finally:
            self.run(f"rm -rf {shlex.quote(stage)}")
        return True

    def upload(self, local: str, remote: str) -> None:
        """Copy a local file to ``remote`` (as the login user; root-owned dirs need root)."""
        if self._root():
            self.connection.put(local, remote)
            return
        stage = self._stage()
        try:
            self.connection.put(local, f"{stage}/file")
            self.run(f"install -D -m 644 {stage}/file {shlex.quote(remote)}")
        finally:
            self.run(f"rm -rf {shlex.quote(stage)}")

    @contextlib.contextmanager
    def readable_copy(self, path: str) -> Iterator[str]:
        """``path`` as the login user may read it over SFTP (a private copy without root)."""
        if self._root():
            yield path
            return
        stage = self._stage()
        try:
            user = shlex.quote(str(self.connection.user))
            self.run(f"install -m 600 -o {user} {shlex.quote(path)} {stage}/file")
            yield f"{stage}/file"
        finally:
            self.run(f"rm -rf {shlex.quote(stage)}")

    def close(self) -> None:
        self.connection.close()
