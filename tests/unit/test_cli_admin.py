"""The admin CLI: tenant, site, agent and API key creation, and what they let one do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _cli(tmp_path: Path, *args: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    env["STEADY_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "server", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _fails(tmp_path: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    env["STEADY_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "server", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    return done.stderr


def test_tenant_site_agent_and_api_key(tmp_path: Path) -> None:
    assert _cli(tmp_path, "tenant", "create", "acme", "--name", "Acme") == {
        "tenant": "acme",
        "name": "Acme",
    }
    site = _cli(
        tmp_path,
        "site",
        "create",
        "--tenant",
        "acme",
        "--name",
        "Shop",
        "--origin",
        "https://shop.acme.test",
    )
    assert site["origins"] == ["https://shop.acme.test"] and str(site["site_key"]).startswith(
        "site_"
    )
    agent = _cli(
        tmp_path,
        "agent",
        "create",
        "--tenant",
        "acme",
        "--email",
        "Ann@Acme.test",
        "--password",
        "long-enough-pw",
        "--role",
        "admin",
    )
    assert agent["email"] == "ann@acme.test" and agent["role"] == "admin"
    key = _cli(tmp_path, "apikey", "create", "--tenant", "acme", "--name", "backend")
    assert str(key["api_key"]).startswith("key_") and len(str(key["api_secret"])) >= 32


def test_refusals_are_one_line(tmp_path: Path) -> None:
    _cli(tmp_path, "tenant", "create", "acme")
    assert "exists" in _fails(tmp_path, "tenant", "create", "acme")
    assert "slug" in _fails(tmp_path, "tenant", "create", "Not A Slug")
    assert "no tenant" in _fails(tmp_path, "site", "create", "--tenant", "ghost", "--name", "x")
    assert "8 characters" in _fails(
        tmp_path, "agent", "create", "--tenant", "acme", "--email", "a@b.c", "--password", "short"
    )
