"""Encryption at rest: the database holds envelopes, clients see plain text, keys rotate,
and a missing or bad key stops the server at start-up with one clear line."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys

import pytest

from server.security.encryption import Keyring, KeyringError, SealedValueError, parse_keyring
from server.storage import rekey
from server.storage.models import AttachmentChunk
from server.storage.sealed import install_keyring
from tests.attachments.test_attachments import fetch, upload
from tests.secure.conftest import bearer, direct_db, raw_rows
from tests.support.clients import (
    Clients,
    get,
    login,
    new_visitor,
    open_conversation,
    post_json,
)
from tests.support.server import REPO_ROOT, ServerError, ServerProcess

K1, K2 = base64.b64encode(os.urandom(32)).decode(), base64.b64encode(os.urandom(32)).decode()


def keys_env(current: str, **keys: str) -> dict[str, str]:
    return {"STEADY_ENCRYPTION_KEYS": json.dumps(keys), "STEADY_ENCRYPTION_KEY_ID": current}


# ---------------------------------------------------------------------- the keyring


def test_seal_and_open_round_trip_with_rotation() -> None:
    old = parse_keyring(json.dumps({"k1": K1}), "")
    assert old is not None and old.current == "k1"
    sealed = old.seal("Ann 安妮", b"visitor.name")
    assert sealed.startswith("enc:v1:k1:") and "Ann" not in sealed
    assert old.seal("Ann 安妮", b"visitor.name") != sealed  # a fresh nonce every time
    new = parse_keyring(json.dumps({"k1": K1, "k2": K2}), "k2")
    assert new is not None and new.open(sealed, b"visitor.name") == "Ann 安妮"
    assert new.seal("x", b"c").startswith("enc:v1:k2:")
    with pytest.raises(SealedValueError):
        new.open(sealed, b"visitor.email")  # bound to its column
    with pytest.raises(SealedValueError, match="k1"):
        Keyring({"k2": base64.b64decode(K2)}, "k2").open(sealed, b"visitor.name")
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(SealedValueError):
        new.open(tampered, b"visitor.name")


BAD_KEY_CONFIGURATIONS = [
    ("", "k1", "STEADY_ENCRYPTION_KEYS is empty"),
    ("not json", "", "must be JSON"),
    ("[]", "", "non-empty JSON object"),
    (json.dumps({"k1": base64.b64encode(b"short").decode()}), "", "exactly 32 bytes"),
    (json.dumps({"k1": K1, "k2": K2}), "", "set STEADY_ENCRYPTION_KEY_ID"),
    (json.dumps({"k1": K1}), "k9", "'k9' is not in"),
    (json.dumps({"bad id!": K1}), "", "key id"),
]


# Named by the problem: the keys are random, and xdist's workers must collect the same ids.
@pytest.mark.parametrize(("keys", "current", "problem"), BAD_KEY_CONFIGURATIONS,
                         ids=[problem for _, _, problem in BAD_KEY_CONFIGURATIONS])
def test_bad_key_configuration(keys: str, current: str, problem: str) -> None:
    with pytest.raises(KeyringError, match=problem):
        parse_keyring(keys, current)


def test_no_keys_means_off() -> None:
    assert parse_keyring("", "") is None


# ---------------------------------------------------------------------- on a server


async def chat_with_secrets(server: ServerProcess, clients: Clients,
                            body: str) -> tuple[str, list[str]]:
    """A named visitor with an e-mail chats, the agent closes, the visitor rates with a
    comment; the conversation and what was sent."""
    visitor = await clients.visitor(server, name="Zhang Wei", email="zhang.wei@example.com")
    agent = await clients.agent(server)
    conv = await open_conversation(visitor, agent, body)
    await agent.send_and_ack("a reply about the parcel", conv)
    await agent.send_json({"type": "close", "conv": conv})
    await visitor.recv_event("conv.closed", conv)
    await visitor.send_json({"type": "rate", "conv": conv, "rating": 5,
                             "comment": "very kind comment"})
    await visitor.recv_event("conv.rated", conv)
    return conv, [body, "a reply about the parcel"]


def stored(server: ServerProcess, conv: str) -> dict[str, list[str]]:
    bodies = [r[0] for r in raw_rows(
        server, "SELECT body FROM message WHERE conversation_id = ? ORDER BY seq", (conv,))]
    row = raw_rows(server, "SELECT v.name, v.email, c.rating_comment FROM conversation c "
                   "JOIN visitor v ON v.id = c.visitor_id WHERE c.id = ?", (conv,))[0]
    return {"bodies": bodies, "visitor": [row[0], row[1]], "comment": [row[2]]}


async def test_sealed_in_the_database_plain_for_clients(
    server_factory: ServerProcess, clients: Clients
) -> None:
    server = server_factory(env=keys_env("k1", k1=K1))
    conv, sent = await chat_with_secrets(server, clients, "where is parcel 998877?")
    raw = stored(server, conv)
    everything = json.dumps(raw)
    for secret in ("parcel", "Zhang", "zhang.wei", "kind comment"):
        assert secret not in everything, f"{secret!r} is stored in clear: {everything[:300]}"
    assert all(v.startswith("enc:v1:k1:") for values in raw.values() for v in values)
    # Clients see plain text: a new connection's history, REST cards, the rating.
    agent = await clients.agent(server)
    assert [m["body"] for m in await agent.history(conv)] == sent
    token = (await login(server, server.demo.agents[0]))["token"]  # type: ignore[union-attr]
    cards = (await get(server, "/api/v1/conversations?status=closed", bearer(token))).json()
    card = next(c for c in cards["conversations"] if c["id"] == conv)
    assert card["visitor"]["name"] == "Zhang Wei"
    assert card["visitor"]["email"] == "zhang.wei@example.com"
    assert card["rating"]["comment"] == "very kind comment"
    assert card["last_message"]["body"] == "a reply about the parcel"


async def test_a_resent_cid_is_found_through_the_seal(
    server_factory: ServerProcess, clients: Clients
) -> None:
    server = server_factory(env=keys_env("k1", k1=K1))
    visitor = await clients.visitor(server)
    first = await visitor.send_and_ack("once only", cid="resend-1")
    again = await visitor.send_and_ack("once only", cid="resend-1")
    assert (again["id"], again["seq"]) == (first["id"], first["seq"])
    history = await visitor.history(first["conv"])
    assert [m["body"] for m in history] == ["once only"]


async def test_keys_rotate_and_a_missing_key_stops_the_start(
    server_factory: ServerProcess, clients: Clients
) -> None:
    server = server_factory(env={})  # plain at first: old rows stay readable later
    visitor = await clients.visitor(server, name="Plain Name")
    plain = await visitor.send_and_ack("enc:v1:k1:AAAA typed by a visitor")
    conv = plain["conv"]
    assert raw_rows(server, "SELECT body FROM message WHERE id = ?", (plain["id"],)) == [
        ("raw:enc:v1:k1:AAAA typed by a visitor",)]  # escaped, so it never looks sealed
    await visitor.close()

    server.extra_env.update(keys_env("k1", k1=K1))
    await server.arestart()
    visitor = await clients.visitor(server, session=visitor.session, resume={conv: 1})
    one = await visitor.send_and_ack("sealed with k1", conv)

    server.extra_env.update(keys_env("k2", k1=K1, k2=K2))
    await server.arestart()
    visitor = await clients.visitor(server, session=visitor.session, resume={conv: 2})
    two = await visitor.send_and_ack("sealed with k2", conv)
    rows = dict(raw_rows(server, "SELECT seq, body FROM message WHERE conversation_id = ?",
                         (conv,)))
    assert rows[1] == "raw:enc:v1:k1:AAAA typed by a visitor"
    assert rows[one["seq"]].startswith("enc:v1:k1:") and rows[two["seq"]].startswith("enc:v1:k2:")
    history = await visitor.history(conv)
    assert [m["body"] for m in history] == [
        "enc:v1:k1:AAAA typed by a visitor", "sealed with k1", "sealed with k2"]
    await visitor.close()

    # k1 sealed data: a node without k1 refuses to start, naming the key.
    server.extra_env.update(keys_env("k2", k2=K2))
    with pytest.raises(ServerError):
        await server.arestart()
    assert "encrypted with key id(s) k1" in server.log_text()
    # And without any keys at all.
    server.extra_env.pop("STEADY_ENCRYPTION_KEYS")
    server.extra_env.pop("STEADY_ENCRYPTION_KEY_ID")
    with pytest.raises(ServerError):
        await server.arestart()
    assert "encrypted with key id(s) k1, k2" in server.log_text()


def test_a_bad_key_is_a_one_line_configuration_error(server_factory: ServerProcess) -> None:
    server = server_factory(start=False)
    env = {**server.env, **keys_env("k2", k1=K1)}
    done = subprocess.run([sys.executable, "-m", "server", "migrate"], cwd=REPO_ROOT, env=env,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    err = done.stderr.decode()
    assert err.strip().splitlines() == [
        "steadydesk: bad configuration: encryption keys: "
        "STEADY_ENCRYPTION_KEY_ID 'k2' is not in STEADY_ENCRYPTION_KEYS"]
    assert K1 not in err


async def test_visitor_rest_rating_comment_is_sealed(
    server_factory: ServerProcess, clients: Clients
) -> None:
    server = server_factory(env=keys_env("k1", k1=K1))
    visitor = await clients.visitor(server)
    agent = await clients.agent(server)
    conv = await open_conversation(visitor, agent, "hi")
    await agent.send_json({"type": "close", "conv": conv})
    await visitor.recv_event("conv.closed", conv)
    resp = await post_json(server, f"/api/v1/visitor/conversations/{conv}/rating",
                           {"rating": 2, "comment": "slow answer"},
                           bearer(visitor.session["token"]))
    assert resp.status_code == 201 and resp.json()["comment"] == "slow answer"
    (comment,), = raw_rows(server, "SELECT rating_comment FROM conversation WHERE id = ?",
                           (conv,))
    assert comment.startswith("enc:v1:k1:") and "slow" not in comment


async def test_the_longest_visitor_details_fit_sealed(
    server_factory: ServerProcess, clients: Clients
) -> None:
    server = server_factory(env=keys_env("a-rather-long-key-id-of-32-chars", **{
        "a-rather-long-key-id-of-32-chars": K1}))
    name, email = "😀" * 200, "é" * 240 + "@example.com"
    visitor = await clients.visitor(server, name=name, email=email)
    agent = await clients.agent(server)
    conv = await open_conversation(visitor, agent, "hi")
    token = (await login(server, server.demo.agents[0]))["token"]  # type: ignore[union-attr]
    cards = (await get(server, "/api/v1/conversations?status=open", bearer(token))).json()
    card = next(c for c in cards["conversations"] if c["id"] == conv)
    assert card["visitor"]["name"] == name and card["visitor"]["email"] == email[:254]
    again = await clients.visitor(server, token=visitor.session["token"], name="Renamed")
    assert again.session["visitor_id"] == visitor.session["visitor_id"]
    cards = (await get(server, "/api/v1/conversations?status=open", bearer(token))).json()
    card = next(c for c in cards["conversations"] if c["id"] == conv)
    assert card["visitor"]["name"] == "Renamed"  # an UPDATE seals too
    (raw,), = raw_rows(server, "SELECT name FROM visitor WHERE id = ?",
                       (visitor.session["visitor_id"],))
    assert raw.startswith("enc:v1:a-rather-long-key-id-of-32-chars:")
    await agent.send_json({"type": "close", "conv": conv})
    await agent.recv_event("conv.closed", conv)


async def test_a_body_too_big_to_store_sealed_is_refused_alone(
    server_factory: ServerProcess, clients: Clients
) -> None:
    # A node may allow up to 60,000 characters; sealed, 14,000 four-byte characters are
    # about 75 KB, past MySQL's TEXT. It must be refused on its own (body_too_long), not
    # fail the group commit (and every message batched with it) with a storage error.
    server = server_factory(env={**keys_env("k1", k1=K1), "STEADY_BODY_MAX_CHARS": "15000"})
    visitor = await clients.visitor(server)
    first = await visitor.send_and_ack("hello")
    cid = "big-" + os.urandom(6).hex()
    await visitor.send_text(json.dumps({"type": "send", "cid": cid, "conv": first["conv"],
                                        "body": "😀" * 14000}, ensure_ascii=False))
    answer = await visitor.recv_until(lambda f: f.get("cid") == cid, timeout=10)
    assert answer["type"] == "error" and answer["code"] == "body_too_long", answer
    await visitor.send_and_ack("😀" * 5000, conv=first["conv"])  # below the bound: stored


async def test_reencrypt_moves_everything_to_the_current_key_and_retires_the_old(
    server_factory: ServerProcess, clients: Clients
) -> None:
    server = server_factory(env={})
    visitor = await clients.visitor(server, name="Before Keys")
    plain = await visitor.send_and_ack("written before any key")
    conv = plain["conv"]
    await visitor.close()
    server.extra_env.update(keys_env("k1", k1=K1))
    await server.arestart()
    visitor = await clients.visitor(server, session=visitor.session, resume={conv: 1})
    await visitor.send_and_ack("sealed with k1", conv)
    await visitor.close()

    server.extra_env.update(keys_env("k2", k1=K1, k2=K2))
    await server.arestart()  # running while re-sealing: rows are compared before rewriting
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "server", "reencrypt", "--batch", "1"],
        cwd=REPO_ROOT, env=server.env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["resealed"]["message.body"] == 2
    assert report["resealed"]["visitor.name"] >= 1
    assert report["retired_keys"] == ["k1"]
    bodies = [r[0] for r in raw_rows(server, "SELECT body FROM message WHERE conversation_id = ?",
                                     (conv,))]
    assert len(bodies) == 2 and all(b.startswith("enc:v1:k2:") for b in bodies)
    assert raw_rows(server, "SELECT kid FROM encryption_key_use") == [("k2",)]

    server.extra_env.update(keys_env("k2", k2=K2))  # k1 is no longer needed
    await server.arestart()
    visitor = await clients.visitor(server, session=visitor.session, resume={conv: 0})
    history = await visitor.history(conv)
    assert [m["body"] for m in history] == ["written before any key", "sealed with k1"]


def _reencrypt(env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "server", "reencrypt"], cwd=REPO_ROOT, env=env,
        capture_output=True, timeout=60, check=False)


async def test_reencrypt_refuses_while_a_running_node_still_seals_with_the_old_key(
    server_factory: ServerProcess, clients: Clients
) -> None:
    """Issue #21, item 5: the operator configures k2 for the command but the node still
    runs on k1; retiring k1 then would leave the node's next rows unreadable after a
    restart. Refused with the node named; allowed once the node restarted on k2."""
    server = server_factory(env=keys_env("k1", k1=K1))
    visitor = await clients.visitor(server)
    conv = (await visitor.send_and_ack("sealed with k1"))["conv"]

    cli_env = {**server.env, **keys_env("k2", k1=K1, k2=K2)}
    refused = await asyncio.to_thread(_reencrypt, cli_env)
    err = refused.stderr.decode()
    assert refused.returncode == 1, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("steadydesk:")]
    assert len(lines) == 1, err
    assert f"{server.node_name} seals with k1" in lines[0], lines[0]
    assert "refused" in lines[0] and "STEADY_ENCRYPTION_KEY_ID=k2" in lines[0], lines[0]
    assert refused.stdout == b""
    # Nothing was resealed or retired, and the node goes on sealing with k1.
    await visitor.send_and_ack("still sealed with k1", conv)
    bodies = [r[0] for r in raw_rows(server, "SELECT body FROM message WHERE conversation_id = ?",
                                     (conv,))]
    assert len(bodies) == 2 and all(b.startswith("enc:v1:k1:") for b in bodies)
    assert ("k1",) in raw_rows(server, "SELECT kid FROM encryption_key_use")

    server.extra_env.update(keys_env("k2", k1=K1, k2=K2))
    await server.arestart()  # the clean stop withdraws the k1 report, the start reports k2
    allowed = await asyncio.to_thread(_reencrypt, cli_env)
    assert allowed.returncode == 0, allowed.stderr.decode()
    assert json.loads(allowed.stdout)["retired_keys"] == ["k1"]
    bodies = [r[0] for r in raw_rows(server, "SELECT body FROM message WHERE conversation_id = ?",
                                     (conv,))]
    assert len(bodies) == 2 and all(b.startswith("enc:v1:k2:") for b in bodies)


async def test_search_says_it_cannot_read_sealed_bodies(
    server_factory: ServerProcess, clients: Clients
) -> None:
    """An index over envelopes finds nothing: the answer is a clear 409, not an empty
    list that looks like "no such message"; the filters alone still work."""
    server = server_factory(env=keys_env("k1", k1=K1))
    conv, _ = await chat_with_secrets(server, clients, "where is parcel 445566?")
    token = (await login(server, server.demo.agents[0]))["token"]  # type: ignore[union-attr]
    refused = await get(server, "/api/v1/search?q=parcel", bearer(token))
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "search_unavailable"
    listed = await get(server, "/api/v1/search?status=closed", bearer(token))
    assert listed.status_code == 200, listed.text
    assert conv in {r["conv"] for r in listed.json()["results"]}


# ------------------------------------------------------------------- attachments' bytes

INVOICE = b"Invoice 4471 for Zhang Wei, card ending 0005\n"
BIG = b"".join(b"line %06d of a long private transcript\n" % n for n in range(40_000))  # 1.6 MB


def chunks(server: ServerProcess, attachment: str) -> list[bytes]:
    rows = raw_rows(server, "SELECT data FROM attachment_chunk WHERE attachment_id = ? "
                    "ORDER BY n", (attachment,))
    return [bytes(r[0]) for r in rows]


async def uploaded(server: ServerProcess, data: bytes, name: str) -> tuple[str, str]:
    """A new visitor uploads ``data``: the attachment's id and the uploader's URL."""
    visitor = await new_visitor(server)
    up = await upload(server, visitor["token"], data, name)
    assert up.status_code == 201, up.text
    return up.json()["id"], up.json()["url"]


async def test_attachments_bytes_are_sealed_and_move_to_the_current_key(
    server_factory: ServerProcess,
) -> None:
    """Attachments in the database (the default store) are sealed chunk by chunk: a dump
    holds no byte of them in clear, the uploader gets them back whole, and reencrypt moves
    them (and a file stored before any key) to the new key before the old one retires."""
    server = server_factory(env={})
    before, before_url = await uploaded(server, INVOICE, "before.txt")
    assert chunks(server, before) == [INVOICE]  # no key yet: stored as sent

    server.extra_env.update(keys_env("k1", k1=K1))
    await server.arestart()
    small, small_url = await uploaded(server, INVOICE, "invoice.txt")
    big, big_url = await uploaded(server, BIG, "transcript.txt")
    sealed = chunks(server, small) + chunks(server, big)
    assert len(chunks(server, big)) == 2
    assert all(c.startswith(b"\x00enc:v1:k1:") for c in sealed)
    assert not any(b"Zhang" in c or b"private transcript" in c for c in sealed)
    for url, data in ((before_url, INVOICE), (small_url, INVOICE), (big_url, BIG)):
        got = await fetch(server, url)
        assert got.status_code == 200 and got.content == data

    server.extra_env.update(keys_env("k2", k1=K1, k2=K2))
    await server.arestart()
    done = await asyncio.to_thread(_reencrypt, server.env)
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["resealed"]["attachment_chunk.data"] == 4  # the plain one and k1's three
    assert report["retired_keys"] == ["k1"]
    for attachment in (before, small, big):
        assert all(c.startswith(b"\x00enc:v1:k2:") for c in chunks(server, attachment))

    server.extra_env.update(keys_env("k2", k2=K2))
    await server.arestart()
    for url, data in ((before_url, INVOICE), (small_url, INVOICE), (big_url, BIG)):
        got = await fetch(server, url)
        assert got.status_code == 200 and got.content == data


async def test_a_key_that_seals_only_attachments_is_not_retired(
    server_factory: ServerProcess,
) -> None:
    """Without looking at the chunks, reencrypt's check would call k1 unused and retire
    it, and the files would no longer open once k1 left the configuration."""
    server = server_factory(env=keys_env("k1", k1=K1))
    await uploaded(server, INVOICE, "invoice.txt")
    assert raw_rows(server, "SELECT COUNT(*) FROM message") == [(0,)]
    with direct_db(server) as database:
        assert rekey._still_used(database, "k1")
        assert not rekey._still_used(database, "k9")


def test_bytes_that_look_sealed_are_stored_escaped_without_keys() -> None:
    """A chunk after a file's first is any slice of it: one crafted to start like an
    envelope is escaped, so it reads back as it was (and never as "cannot open")."""
    field = AttachmentChunk.data
    install_keyring(None)
    for data in (b"\x00enc:v1:k1:whatever", b"\x00raw:x", b"plain", b""):
        assert field.python_value(field.db_value(data)) == data
    install_keyring(parse_keyring(json.dumps({"k1": K1}), "k1"))
    try:
        stored = bytes(field.db_value(b"\x00enc:v1:k1:whatever"))
        assert stored.startswith(b"\x00enc:v1:k1:") and field.python_value(stored) == (
            b"\x00enc:v1:k1:whatever")
        install_keyring(parse_keyring(json.dumps({"k2": K2}), "k2"))
        with pytest.raises(SealedValueError):
            field.python_value(stored)  # k1 is not configured: a clear error, not garbage
    finally:
        install_keyring(None)
