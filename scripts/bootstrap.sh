#!/usr/bin/env bash
# Create or refresh .venv: Python 3.11+, the project (editable) and its dev tools,
# including the `task` runner (.venv/bin/task). Safe to run again: when .venv already
# matches pyproject.toml it only says so.
#
#   ./scripts/bootstrap.sh            # uses python3 from PATH
#   PYTHON=python3.12 ./scripts/bootstrap.sh
#   STEADY_BOOTSTRAP_FORCE=1 ./scripts/bootstrap.sh   # reinstall even if up to date
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/bootstrap.stamp
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore

say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3.11 or newer"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$("$PYTHON" -V 2>&1) is too old: Steadydesk needs 3.11 or newer (set PYTHON=...)"
py_version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        return 1
    fi
}

venv_works() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}

# Debian and Ubuntu ship venv's pip bootstrap (ensurepip) in a separate package.
install_venv_package() {
    command -v apt-get >/dev/null 2>&1 || return 1
    say "python3 -m venv needs the venv package; installing python$py_version-venv with apt-get"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$py_version-venv" \
        >/dev/null 2>&1 \
        || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
}

create_venv() {
    # A failed `python3 -m venv` leaves a half-made folder behind: start clean each time.
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" >/dev/null 2>&1 && return 0
    rm -rf "$VENV"
    install_venv_package \
        || die "python3 -m venv failed; install your system's python3-venv package (as root)"
    "$PYTHON" -m venv "$VENV" || die "python3 -m venv failed even with python3-venv installed"
}

# The stamp names the interpreter and pyproject.toml: change either and we reinstall.
wanted_stamp="$("$PYTHON" -c 'import sys; print(sys.version)' | head -n 1) $(sha256sum pyproject.toml | cut -d' ' -f1)"

if venv_works && [ -x "$VENV/bin/task" ] && [ -x "$VENV/bin/steadydesk" ] \
        && [ "${STEADY_BOOTSTRAP_FORCE:-0}" != 1 ] \
        && [ "$(cat "$STAMP" 2>/dev/null)" = "$wanted_stamp" ]; then
    say ".venv is up to date (Python $py_version)"
    exit 0
fi

if venv_works; then
    say "updating .venv (Python $py_version)"
else
    say "creating .venv with $("$PYTHON" -V 2>&1)"
    create_venv
fi

# pip's own chatter (and the build backend's warnings) go to a log, shown on failure.
log=$VENV/bootstrap.log
: >"$log"
pip_install() {
    "$VENV/bin/python" -m pip install "$@" >>"$log" 2>&1 && return 0
    tail -n 40 "$log" >&2
    die "pip install $* failed (full log: $log)"
}
pip_install --upgrade pip
pip_install -e '.[dev]'
[ -x "$VENV/bin/task" ] \
    || die "the dev extra did not install the task runner (go-task-bin missing from pyproject.toml?)"
printf '%s\n' "$wanted_stamp" >"$STAMP"
say ".venv is ready: run .venv/bin/task --list"
