"""What a restore refuses, and what an archive looks like on disk (no server needed).

The archive's integrity does not depend on the backend, so these run on SQLite: a byte
flipped anywhere (the gzip header included, which gzip itself does not check), a missing
sidecar with a damaged body, an archive from a newer schema, a wrong passphrase, a
non-empty target; each refused with one clear line, nothing written. Also: permissions,
``--with-keys``, ``backup list``, rotation.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from backups.archive import read_sidecar
from server.storage.migrations import LATEST_VERSION
from tests.backups.support import CliResult, cli, cli_ok, query
from tests.support.server import _base_env

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An install with the demo tenant (SQLite), as the CLI sees it."""
    root = tmp_path_factory.mktemp("install")
    env = {**_base_env(), "STEADY_DATA_DIR": str(root / "data")}
    cli_ok(env, "demo", "--json")
    return env


def archive_of(install: dict[str, str]) -> Path:
    return Path(cli_ok(install, "backup", "--json").json()["archive"])


@pytest.fixture(scope="module")
def archive(install: dict[str, str]) -> Path:
    return archive_of(install)


def _copy(archive: Path, into: Path, *, sidecar: bool = True) -> Path:
    copy = into / archive.name
    copy.write_bytes(archive.read_bytes())
    if sidecar:
        side = archive.with_name(archive.name + ".sha256")
        copy.with_name(side.name).write_bytes(side.read_bytes())
    return copy


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x40
    path.write_bytes(bytes(data))


def _restore(env: dict[str, str], archive: Path, target: Path, *more: str) -> CliResult:
    return cli(env, "restore", str(archive), "--into", f"sqlite:///{target}", *more)


def _refused(result: CliResult, words: str) -> None:
    assert result.code == 1, result.err
    assert words in result.last_error_line, result.err


@pytest.mark.parametrize("where", ["gzip header", "first member", "middle", "last byte"])
def test_a_flipped_byte_is_refused_before_anything_is_written(
    install: dict[str, str], archive: Path, tmp_path: Path, where: str
) -> None:
    copy = _copy(archive, tmp_path)
    size = copy.stat().st_size
    _flip(copy, {"gzip header": 5, "first member": 40, "middle": size // 2,
                 "last byte": size - 1}[where])
    target = tmp_path / "target.db"
    _refused(_restore(install, copy, target), "is damaged")
    assert not target.exists()


@pytest.mark.parametrize("offset", [40, 0.5, -3])
def test_without_its_sidecar_the_parts_still_catch_damage(
    install: dict[str, str], archive: Path, tmp_path: Path, offset: float
) -> None:
    copy = _copy(archive, tmp_path, sidecar=False)
    size = copy.stat().st_size
    _flip(copy, int(size * offset) if isinstance(offset, float) else int(offset))
    target = tmp_path / "target.db"
    _refused(_restore(install, copy, target), "is damaged")
    assert not target.exists()


def _rewritten(archive: Path, into: Path, change: dict[str, object]) -> Path:
    """The archive with its manifest changed (and a fresh sidecar): a well-formed archive
    of another release."""
    members: list[tuple[tarfile.TarInfo, bytes]] = []
    with tarfile.open(archive, "r:gz") as tar:
        for info in tar:
            fh = tar.extractfile(info)
            assert fh is not None
            members.append((info, fh.read()))
    manifest = json.loads(members[0][1])
    manifest.update(change)
    members[0] = (members[0][0], json.dumps(manifest).encode())
    out = into / archive.name
    with gzip.open(out, "wb") as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    import hashlib

    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    out.with_name(out.name + ".sha256").write_text(f"{digest}  {out.name}\n")
    return out


def test_an_archive_of_a_newer_schema_is_refused(
    install: dict[str, str], archive: Path, tmp_path: Path
) -> None:
    newer = _rewritten(archive, tmp_path, {"schema_version": LATEST_VERSION + 1})
    target = tmp_path / "target.db"
    _refused(_restore(install, newer, target), "newer than this release")
    assert not target.exists()


def test_a_non_empty_target_needs_force(
    install: dict[str, str], archive: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target.db"
    first = _restore(install, archive, target, "--json")
    assert first.code == 0 and first.json()["ok"] is True, first.err
    _refused(_restore(install, archive, target), "add --force")
    # The install's own database holds the demo tenant: `latest` into it is refused too.
    _refused(cli(install, "restore", "latest"), "the target holds data")
    forced = _restore(install, archive, target, "--force", "--json")
    assert forced.code == 0 and forced.json()["ok"] is True, forced.err


def test_archives_are_private_from_creation(install: dict[str, str], archive: Path) -> None:
    assert stat.S_IMODE(archive.parent.stat().st_mode) == 0o700
    for path in (archive, archive.with_name(archive.name + ".sha256")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert not [p for p in archive.parent.iterdir() if p.name.startswith(".")], "leftovers"


@pytest.fixture(scope="module")
def passphrase_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "passphrase"
    path.write_text(PASSPHRASE + "\n")
    return path


def test_with_keys_the_archive_is_encrypted_and_holds_the_keys(
    install: dict[str, str], passphrase_file: Path, tmp_path: Path
) -> None:
    to = tmp_path / "keys"
    made = cli_ok(install, "backup", "--to", str(to), "--with-keys", "--passphrase-file",
                  str(passphrase_file), "--json").json()
    path = Path(made["archive"])
    assert path.name.endswith(".tar.gz.enc")
    secret_key = (Path(install["STEADY_DATA_DIR"]) / "secret_key").read_text().strip()
    assert secret_key.encode() not in path.read_bytes()
    assert read_sidecar(path) == made["sha256"]

    listed = cli_ok(install, "backup", "list", "--to", str(to), "--json").json()
    assert [item["archive"] for item in listed] == [str(path)]
    assert listed[0]["rows"] == made["rows"] and listed[0]["sha256"] == made["sha256"]

    target = tmp_path / "target.db"
    _refused(_restore(install, path, target), "give --passphrase-file")
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all\n")
    _refused(_restore(install, path, target, "--passphrase-file", str(wrong)),
             "damaged or the passphrase is wrong")
    assert not target.exists()
    restored = _restore(install, path, target, "--passphrase-file", str(passphrase_file),
                        "--json")
    assert restored.code == 0 and restored.json()["ok"] is True, restored.err
    assert query(f"sqlite:///{target}", "SELECT id FROM tenant") == [("default",)]
    # A new host's configuration comes from the archive's keys.
    keys = cli_ok(install, "backup", "keys", str(path), "--passphrase-file",
                  str(passphrase_file)).json()
    assert keys["secret_key"] == secret_key and keys["encryption_keys"] == ""
    plain = cli(install, "backup", "keys", str(archive_of(install)), "--passphrase-file",
                str(passphrase_file))
    _refused(plain, "holds no keys")
    # Nothing decrypted is left behind in the data directory.
    assert not list(Path(install["STEADY_DATA_DIR"]).glob(".restore-*"))


def test_a_short_passphrase_is_refused(install: dict[str, str], tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("hunter2\n")
    result = cli(install, "backup", "--to", str(tmp_path), "--with-keys", "--passphrase-file",
                 str(short))
    _refused(result, "shorter than")


def _names(directory: Path) -> Iterator[str]:
    return (p.name for p in sorted(directory.iterdir()) if not p.name.endswith(".sha256"))


def test_rotation_keeps_the_newest_of_each_day(install: dict[str, str], tmp_path: Path) -> None:
    to = tmp_path / "rotated"
    first = cli_ok(install, "backup", "--to", str(to), "--json").json()
    second = cli_ok(install, "backup", "--to", str(to), "--keep-daily", "7", "--json").json()
    # Both of today: the day keeps its newest, the older one goes (with its sidecar).
    assert second["removed"] == [first["archive"]]
    assert list(_names(to)) == [Path(second["archive"]).name]
    assert sorted(os.listdir(to)) == sorted([Path(second["archive"]).name,
                                             Path(second["archive"]).name + ".sha256"])


def test_a_killed_backups_leftovers_are_swept(install: dict[str, str], tmp_path: Path) -> None:
    to = tmp_path / "swept"
    to.mkdir(mode=0o700)
    work, partial = to / ".work-dead", to / ".steadydesk-20200101T000000000Z.tar.gz.partial"
    work.mkdir()
    partial.write_bytes(b"half an archive")
    fresh = to / ".work-running"
    fresh.mkdir()
    day_ago = os.stat(work).st_mtime - 2 * 24 * 3600
    for path in (work, partial):
        os.utime(path, (day_ago, day_ago))
    cli_ok(install, "backup", "--to", str(to))
    assert not work.exists() and not partial.exists()
    assert fresh.exists()  # it may be another backup's, running now
