"""A pytest plugin loaded into the PREVIOUS release's own test run (see
test_expand_contract.py): every MySQL database its fixtures create is first migrated by
the NEW release, so the old release's tests run against the new schema, as its nodes do
during a gray rollout. Imported by module name from this directory, not as tests.ops.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import Any

import pytest


def _migrate_with_the_new_release(url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    with tempfile.TemporaryDirectory(prefix="steady-expand-") as data_dir:
        env.update({"STEADY_DATABASE_URL": url, "STEADY_DATA_DIR": data_dir})
        done = subprocess.run(
            [sys.executable, "-m", "server", "migrate"],
            cwd=os.environ["STEADY_NEW_RELEASE_ROOT"],  # `-m server` imports the new code
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the new release could not migrate {url}: {done.stderr[-2000:]}")
    with open(os.environ["STEADY_EXPAND_LOG"], "a", encoding="utf-8") as log:
        log.write(url.rsplit("/", 1)[-1] + "\n")


def pytest_collection_finish(session: pytest.Session) -> None:
    import tests.support.services as services  # the previous release's

    original = services.create_mysql_database

    def create_then_expand() -> Any:
        database = original()
        _migrate_with_the_new_release(database.url)
        return database

    # Fixture modules imported the function by name: replace every reference to it.
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "tests" or name.startswith("tests.")):
            continue
        for attr, value in list(vars(module).items()):
            if value is original:
                setattr(module, attr, create_then_expand)
