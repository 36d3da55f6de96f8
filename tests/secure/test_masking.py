"""Masking of card numbers and e-mail addresses: the functions, then a real server where
neither the database nor any recipient ever has the original."""

from __future__ import annotations

import json

import pytest

from server.security.masking import MaskingPolicy, luhn_valid, mask_cards, mask_emails
from tests.secure.conftest import raw_rows
from tests.support.clients import Clients, login, open_conversation
from tests.support.http import http_client
from tests.support.server import DemoTenant, ServerProcess


@pytest.mark.parametrize(("text", "masked"), [
    ("card 4111 1111 1111 1111 please", "card **** **** **** 1111 please"),
    ("4111-1111-1111-1111", "**** **** **** 1111"),
    ("4111111111111111", "**** **** **** 1111"),
    ("amex 378282246310005", "amex **** **** **** 0005"),
    ("4111 1111 1111 1111 2", "**** **** **** 1111 2"),  # a trailing digit group
    ("two: 5555555555554444 and 4012888888881881",
     "two: **** **** **** 4444 and **** **** **** 1881"),
    ("not Luhn 4111111111111112", "not Luhn 4111111111111112"),
    ("order 1234567890123", "order 1234567890123"),
    ("call +86 138 0013 8000", "call +86 138 0013 8000"),
    ("12 digits 411111111111", "12 digits 411111111111"),
])
def test_cards(text: str, masked: str) -> None:
    assert mask_cards(text) == masked


@pytest.mark.parametrize(("text", "masked"), [
    ("mail john.doe@example.com now", "mail j***@example.com now"),
    ("a@b.co, x+tag@mail.example.org.", "a***@b.co, x***@mail.example.org."),
    ("no address @ here", "no address @ here"),
    ("user@localhost", "user@localhost"),
])
def test_emails(text: str, masked: str) -> None:
    assert mask_emails(text) == masked


def test_luhn() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


def test_policy_applies_only_what_is_on() -> None:
    text = "4111 1111 1111 1111 / ann@example.com"
    assert MaskingPolicy().apply(text) == text
    assert MaskingPolicy(cards=True).apply(text) == "**** **** **** 1111 / ann@example.com"
    assert MaskingPolicy(emails=True).apply(text) == "4111 1111 1111 1111 / a***@example.com"


SECRET = "my card is 4111 1111 1111 1111, mail me at ann.lee@example.com"
MASKED = "my card is **** **** **** 1111, mail me at a***@example.com"


def enable_masking(server: ServerProcess, tenant: str, **flags: bool) -> None:
    """Write the tenant's "masking" setting (before its first message on this server)."""
    raw_rows(server, "INSERT INTO setting (tenant_id, `key`, value) VALUES (?, ?, ?)"
             if server.database_url.startswith("mysql") else
             "INSERT INTO setting (tenant_id, key, value) VALUES (?, ?, ?)",
             (tenant, "masking", json.dumps(flags)))


async def test_masked_before_storing_for_every_recipient(
    server: ServerProcess, clients: Clients
) -> None:
    tenant = server.run_demo("masked")
    enable_masking(server, tenant.tenant, cards=True, emails=True)
    visitor = await clients.visitor(server, demo=tenant)
    agent = await clients.agent(server, demo=tenant)
    conv = await open_conversation(visitor, agent, SECRET)
    reply = await agent.send_and_ack(f"agent says {SECRET}", conv)
    live = await visitor.recv_type("message", cid=reply["cid"])
    assert live["body"] == f"agent says {MASKED}"
    history = await agent.history(conv)
    assert [m["body"] for m in history] == [MASKED, f"agent says {MASKED}"]
    stored = raw_rows(server, "SELECT body FROM message WHERE conversation_id = ? ORDER BY seq",
                      (conv,))
    assert [row[0] for row in stored] == [MASKED, f"agent says {MASKED}"]
    assert "4111 1111" not in json.dumps(visitor.log + agent.log)
    assert "ann.lee" not in json.dumps(visitor.log + agent.log)


async def test_cards_only_and_other_tenants_untouched(
    server: ServerProcess, clients: Clients, demo: DemoTenant
) -> None:
    tenant = server.run_demo("cardsonly")
    enable_masking(server, tenant.tenant, cards=True)
    visitor = await clients.visitor(server, demo=tenant)
    ack = await visitor.send_and_ack(SECRET)
    own = await visitor.recv_type("message", cid=ack["cid"])
    assert own["body"] == "my card is **** **** **** 1111, mail me at ann.lee@example.com"
    plain = await clients.visitor(server, demo=demo)  # masking is off by default
    ack = await plain.send_and_ack(SECRET)
    assert (await plain.recv_type("message", cid=ack["cid"]))["body"] == SECRET


async def test_turning_masking_on_applies_to_the_next_message_on_this_node(
    server: ServerProcess, clients: Clients
) -> None:
    # The node had already loaded the tenant's policy (off) when the admin turned it on:
    # the very next message must be masked, not only once the cache entry times out.
    tenant = server.run_demo("maskput")
    visitor = await clients.visitor(server, demo=tenant)
    ack = await visitor.send_and_ack("hello")
    await visitor.recv_type("message", cid=ack["cid"])
    admin = await login(server, tenant.admin, demo=tenant)
    async with http_client(base_url=server.url, timeout=10) as http:
        resp = await http.put("/api/v1/settings", json={"masking": {"cards": True}},
                              headers={"authorization": f"Bearer {admin['token']}"})
    assert resp.status_code == 200, resp.text
    ack = await visitor.send_and_ack("card 4111 1111 1111 1111")
    assert (await visitor.recv_type("message", cid=ack["cid"]))["body"] == (
        "card **** **** **** 1111")
    stored = raw_rows(server, "SELECT body FROM message WHERE id = ?", (ack["id"],))
    assert stored == [("card **** **** **** 1111",)]
