"""The plain parts, without a server: visitor-token keys, rotation, checksums, encryption,
the scheduler's catch-up arithmetic."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import time
from pathlib import Path

import jwt
import pytest

from backups.crypto import EncryptingWriter, decrypt_to, read_header
from backups.errors import ArchiveDamaged
from backups.outside_bytes import OutsideBytes
from backups.rotation import ArchiveFile, Retention, archive_name, parse_name, to_remove
from backups.scheduler import due_fire_ms, parse_schedule
from backups.tables import TableChecksum, canonical, encode_row, restored_value
from server.errors import ConfigError, Unauthorized
from server.security.encryption import parse_keyring
from server.security.tokens import TenantKeys, TokenSigner
from server.storage.blobs import DirectoryBlobs
from server.storage.models import AttachmentChunk
from server.storage.sealed import install_keyring

INSTALL_KEY = "install key of the SaaS platform, never exported"


def _signer(install_key: str = INSTALL_KEY, imported: dict[str, tuple[str, bytes]] | None = None
            ) -> TokenSigner:
    found = imported or {}

    def load(kid: str, tenant: str) -> bytes | None:
        entry = found.get(kid)
        return entry[1] if entry and entry[0] == tenant else None

    return TokenSigner(install_key, TenantKeys(install_key, load))


def test_visitor_tokens_name_their_tenant_key_and_verify() -> None:
    signer = _signer()
    token = signer.issue("visitor", tenant="acme", subject="v1", ttl_secs=60, site="s1").token
    kid = jwt.get_unverified_header(token)["kid"]
    assert kid == signer.tenant_keys.own("acme")[0] if signer.tenant_keys else False
    claims = signer.verify(token, "visitor")
    assert (claims.tenant, claims.subject, claims.site) == ("acme", "v1", "s1")
    # Each tenant its own key; an agent token stays on the install key (no kid).
    other = signer.issue("visitor", tenant="globex", subject="v2", ttl_secs=60).token
    assert jwt.get_unverified_header(other)["kid"] != kid
    agent = signer.issue("agent", tenant="acme", subject="a1", ttl_secs=60).token
    assert "kid" not in jwt.get_unverified_header(agent)


def test_tokens_from_before_tenant_keys_still_verify() -> None:
    old = TokenSigner(INSTALL_KEY).issue("visitor", tenant="acme", subject="v1", ttl_secs=60)
    assert _signer().verify(old.token, "visitor").subject == "v1"


def test_a_tenant_key_signs_only_that_tenants_visitor_tokens() -> None:
    """Whoever holds a tenant's exported key can sign nothing else: no other tenant, no
    agent or operator token."""
    source = _signer()
    kid, key = source.tenant_keys.own("acme") if source.tenant_keys else ("", b"")
    now = int(time.time())

    def forged(**claims: object) -> str:
        body = {"iss": "steadydesk", "sub": "x", "iat": now, "exp": now + 60, "ver": 9,
                **claims}
        return jwt.encode(body, key, algorithm="HS256", headers={"kid": kid})

    assert source.verify(forged(knd="visitor", ten="acme"), "visitor").tenant == "acme"
    for token, kind in ((forged(knd="visitor", ten="globex"), "visitor"),
                        (forged(knd="agent", ten="acme"), "agent"),
                        (forged(knd="operator", ten="acme"), "operator")):
        with pytest.raises(Unauthorized):
            source.verify(token, kind)  # type: ignore[arg-type]


def test_an_imported_key_verifies_its_tenants_old_tokens_elsewhere() -> None:
    source = _signer()
    token = source.issue("visitor", tenant="acme", subject="v1", ttl_secs=60).token
    kid, key = source.tenant_keys.own("acme") if source.tenant_keys else ("", b"")
    elsewhere = "the self-hosted install's own key"
    with pytest.raises(Unauthorized):
        _signer(elsewhere).verify(token, "visitor")
    target = _signer(elsewhere, {kid: ("acme", key)})
    assert target.verify(token, "visitor").subject == "v1"
    # New tokens there are signed with the new install's key for the tenant.
    fresh = target.issue("visitor", tenant="acme", subject="v1", ttl_secs=60).token
    assert jwt.get_unverified_header(fresh)["kid"] != kid
    # The imported key belongs to acme: a token of another tenant naming it fails.
    with pytest.raises(Unauthorized):
        _signer(elsewhere, {kid: ("globex", key)}).verify(token, "visitor")


def _archive(day: str, hour: int = 3) -> ArchiveFile:
    created = dt.datetime.fromisoformat(day).replace(hour=hour)
    return ArchiveFile(Path(archive_name(created, None, False)), created, None, False)


def test_archive_names_parse_back() -> None:
    created = dt.datetime(2026, 3, 1, 3, 0, 5, 123000)
    name = archive_name(created, "acme-co", True)
    parsed = parse_name(Path(name))
    assert parsed is not None and (parsed.created, parsed.tenant, parsed.encrypted) == (
        created, "acme-co", True)
    assert parse_name(Path("steadydesk-nope.tar.gz")) is None


def test_rotation_keeps_days_weeks_and_months() -> None:
    # Nightly archives for 100 days, two on the newest day.
    start = dt.date(2026, 1, 1)
    archives = [_archive((start + dt.timedelta(days=i)).isoformat()) for i in range(100)]
    archives.append(_archive((start + dt.timedelta(days=99)).isoformat(), hour=15))
    removed = {a.path for a in to_remove(archives, Retention(daily=7, weekly=4, monthly=6))}
    kept = sorted((a.created for a in archives if a.path not in removed), reverse=True)
    newest = max(a.created for a in archives)
    assert kept[0] == newest
    days = {k.date() for k in kept}
    assert len([d for d in days if d > newest.date() - dt.timedelta(days=7)]) == 7
    assert len({k.isocalendar()[:2] for k in kept}) >= 4
    assert {(k.year, k.month) for k in kept} == {(2026, m) for m in (1, 2, 3, 4)}
    assert len(kept) < 20
    # Nothing to keep but the newest.
    assert len(to_remove(archives, Retention())) == len(archives) - 1


def test_table_checksums_ignore_order_but_not_duplicates() -> None:
    rows = [[1, "a", None], [2, "b", "x"], [3, "c", 0]]
    forward, backward, doubled = TableChecksum(), TableChecksum(), TableChecksum()
    for row in rows:
        forward.add(encode_row(row))
    for row in reversed(rows):
        backward.add(encode_row(row))
    for row in [*rows[:2], rows[0]]:
        doubled.add(encode_row(row))
    assert forward.hexdigest == backward.hexdigest
    assert doubled.hexdigest != forward.hexdigest and doubled.rows == 3


def test_values_travel_the_same_from_both_backends() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5)
    assert canonical(when) == "2026-01-02 03:04:05"  # what SQLite stores as text
    assert canonical(True) == 1 and canonical(None) is None and canonical("é") == "é"


def test_encryption_round_trip_and_tampering(tmp_path: Path) -> None:
    sealed = io.BytesIO()
    writer = EncryptingWriter(sealed, b"a long enough passphrase", {"tenant": None})
    writer.write(b"secret payload " * 1000)
    writer.finish()
    path = tmp_path / "a.enc"
    path.write_bytes(sealed.getvalue())
    assert b"secret payload" not in path.read_bytes()
    assert read_header(path)[0]["public"] == {"tenant": None}
    decrypt_to(path, b"a long enough passphrase", tmp_path / "plain")
    assert (tmp_path / "plain").read_bytes() == b"secret payload " * 1000
    with pytest.raises(ArchiveDamaged, match="passphrase is wrong"):
        decrypt_to(path, b"another passphrase here", tmp_path / "wrong")
    assert not (tmp_path / "wrong").exists()
    data = bytearray(path.read_bytes())
    data[60] ^= 1  # inside the header: authenticated too
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveDamaged):
        decrypt_to(path, b"a long enough passphrase", tmp_path / "tampered")


def test_schedules_and_missed_fire_times() -> None:
    nightly = parse_schedule("0 3 * * *")
    assert nightly is not None and parse_schedule("") is None
    with pytest.raises(ConfigError):
        parse_schedule("every night")
    ms = lambda text: int(dt.datetime.fromisoformat(text + "+00:00").timestamp() * 1000)  # noqa: E731
    # The holder died at 02:59; the next node took over at 03:00:30: 03:00 is owed.
    assert due_fire_ms(nightly, ms("2026-01-01 02:59:00"), ms("2026-01-01 03:00:30")) == ms(
        "2026-01-01 03:00:00")
    # Nothing is owed for fire times before the lease existed (a fresh install at noon).
    assert due_fire_ms(nightly, ms("2026-01-01 12:00:00"), ms("2026-01-01 13:00:00")) is None
    # Several missed: only the latest is run.
    assert due_fire_ms(nightly, ms("2026-01-01 00:00:00"), ms("2026-01-04 10:00:00")) == ms(
        "2026-01-04 03:00:00")
    every_two = parse_schedule("*/2 * * * * *")
    assert every_two is not None
    assert due_fire_ms(every_two, ms("2026-01-01 00:00:00"), ms("2026-01-01 00:00:05")) == ms(
        "2026-01-01 00:00:04")


def test_the_config_member_redacts_the_attachment_buckets_secret(tmp_path: Path) -> None:
    from backups.backup import REDACTED, config_snapshot
    from server.config import Settings

    settings = Settings(data_dir=tmp_path, attachment_s3_bucket="files",
                        attachment_s3_key_id="AKIAEXAMPLE", attachment_s3_secret="s3cr3t-value")
    snapshot = config_snapshot(settings)
    assert snapshot["attachment_s3_secret"] == REDACTED
    assert snapshot["attachment_s3_bucket"] == "files"
    assert "s3cr3t-value" not in str(snapshot)


def test_an_attachment_endpoint_must_be_http() -> None:
    from pydantic import ValidationError

    from server.config import Settings

    with pytest.raises(ValidationError, match="https://"):
        Settings(attachment_s3_endpoint="ftp://files.example.com")


def test_bytes_moved_from_outside_the_database_are_sealed_as_the_database_would(
    tmp_path: Path,
) -> None:
    """A directory's (or bucket's) file goes into a backup sealed with the install's keys,
    chunk by chunk, and opens again as the database store opens it; without ``seal`` (an
    export's ``--decrypt``) it is archived as it is."""
    store = DirectoryBlobs(tmp_path / "files")
    data = b"Private scan of a passport " * 50_000  # 1.35 MB: two chunks
    store.put("acme", "01FILE", data)
    moved = OutsideBytes([store])
    moved.kinds[("acme", "01FILE")] = "dir"
    moved.moved[("acme", "01FILE")] = None
    columns = ["tenant_id", "attachment_id", "n", "data"]
    field = AttachmentChunk.data
    install_keyring(parse_keyring(json.dumps({"b1": base64.b64encode(bytes(32)).decode()}), ""))
    try:
        sealed = [restored_value(row[3]) for row in moved.chunk_rows(columns)]
        assert len(sealed) == 2 and all(c.startswith(b"\x00enc:v1:b1:") for c in sealed)
        assert b"passport" not in b"".join(sealed)
        assert b"".join(field.python_value(c) for c in sealed) == data
        plain = [restored_value(row[3]) for row in moved.chunk_rows(columns, seal=False)]
        assert b"".join(plain) == data
    finally:
        install_keyring(None)
