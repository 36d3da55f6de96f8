"""Writing a setting whose stored value would not change, and the first writes of a
tenant's settings made at the same time, all succeed.

MySQL reports the rows an UPDATE changed, not the rows it matched: saving the same value
again counted 0 and went on to insert the row a second time (duplicate key, 500)."""

from __future__ import annotations

import asyncio

from tests.routing.support import new_tenant
from tests.support.server import ServerProcess

LIMITS = {"limits": {"body_max_chars": 500}}
ROUTING = {"policy": "round_robin", "offer_timeout_secs": 20}


async def test_saving_the_same_settings_twice_succeeds(server: ServerProcess) -> None:
    t = await new_tenant(server)
    for path, body in (("/settings", LIMITS), ("/routing/default", ROUTING)):
        for _ in range(2):
            resp = await t.call("PUT", path, t.admin_token, body)
            assert resp.status_code == 200, resp.text
    got = await t.call("GET", "/routing/default", t.admin_token)
    assert got.json() == ROUTING


async def test_concurrent_first_settings_writes_all_succeed(server: ServerProcess) -> None:
    for _ in range(3):
        t = await new_tenant(server)
        calls = [
            t.call("PUT", "/settings", t.admin_token, {"limits": {"body_max_chars": 100 + n}})
            for n in range(8)
        ] + [
            t.call("PUT", "/routing/default", t.admin_token, {"policy": "least_loaded"})
            for _ in range(8)
        ]
        answers = await asyncio.gather(*calls)
        bad = [(r.status_code, r.text[:200]) for r in answers if r.status_code != 200]
        assert not bad, bad


async def test_concurrent_merges_of_one_section_keep_every_change(server: ServerProcess) -> None:
    t = await new_tenant(server)
    await t.call("PUT", "/settings", t.admin_token, LIMITS)  # the row exists: a merge each
    fields = ("body_max_chars", "ws_rate_visitor", "ws_rate_agent")
    answers = await asyncio.gather(
        *(t.call("PUT", "/settings", t.admin_token, {"limits": {f: 77}}) for f in fields)
    )
    assert [r.status_code for r in answers] == [200] * 3
    limits = (await t.call("GET", "/settings", t.admin_token)).json()["limits"]
    assert limits == {**dict.fromkeys(fields, 77), "canned_personal_max": 200,
                      "attachment_max_bytes": 10 * 2**20}
