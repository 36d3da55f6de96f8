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


def test_tenant_show_lists_sites_and_enabled_admins_without_secrets(tmp_path: Path) -> None:
    assert "no tenant ghost" in _fails(tmp_path, "tenant", "show", "ghost")
    _cli(tmp_path, "tenant", "create", "acme")
    site = _cli(tmp_path, "site", "create", "--tenant", "acme", "--name", "Shop",
                "--origin", "https://shop.acme.test")  # fmt: skip
    for email, role in (("boss@acme.test", "admin"), ("ann@acme.test", "agent")):
        _cli(tmp_path, "agent", "create", "--tenant", "acme", "--email", email,
             "--password", "long-enough-pw", "--role", role)  # fmt: skip
    shown = _cli(tmp_path, "tenant", "show", "acme")
    assert shown == {
        "tenant": "acme",
        "name": "acme",
        "sites": [{"site_key": site["site_key"], "name": "Shop",
                   "origins": ["https://shop.acme.test"]}],
        "admins": ["boss@acme.test"],
    }  # fmt: skip
    assert site["site_secret"] not in json.dumps(shown)


def test_passwords_can_come_from_stdin_or_a_file_instead_of_the_command_line(
    tmp_path: Path,
) -> None:
    _cli(tmp_path, "tenant", "create", "acme")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    env["STEADY_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "server", "agent", "create", "--tenant", "acme",
         "--email", "in@acme.test", "--password-file", "-"],
        input="from-stdin-pw\n", env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    secret = tmp_path / "pw.txt"
    secret.write_text("from-a-file-pw\nsecond line ignored\n")
    _cli(tmp_path, "agent", "create", "--tenant", "acme", "--email", "file@acme.test",
         "--password-file", str(secret))  # fmt: skip
    refused = _fails(tmp_path, "agent", "create", "--tenant", "acme",
                     "--email", "x@acme.test", "--password-file", "/nope")  # fmt: skip
    assert "--password-file" in refused
    # Both logins work with exactly the password given (the newline is not part of it).
    from server.config import load_settings
    from server.security.passwords import verify_password
    from server.storage import open_store
    from server.storage.guard import TenantScope
    from server.storage.models import Agent

    store = open_store(load_settings(None, data_dir=tmp_path))
    try:
        with store.database.connection_context():
            stored = {a.email: a.password_hash for a in TenantScope("acme").select(Agent)}
    finally:
        store.close()
    assert verify_password(stored["in@acme.test"], "from-stdin-pw")
    assert verify_password(stored["file@acme.test"], "from-a-file-pw")
