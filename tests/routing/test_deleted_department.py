"""Deleting a department detaches everything that points at it, including the choice a
visitor made in the pre-chat form: their next conversation must not be queued in it."""

from __future__ import annotations

import asyncio

from tests.routing.support import new_tenant
from tests.support.clients import Clients
from tests.support.server import ServerProcess


async def test_a_visitors_choice_of_a_deleted_department_is_dropped(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    dep = t.department("Returns", [0])
    session = await t.session(department=dep)
    assert session.status_code == 200, session.text
    deleted = await t.call("DELETE", f"/departments/{dep}", t.admin_token)
    assert deleted.status_code == 200, deleted.text
    visitor = await clients.visitor(t.server, session=session.json(), demo=t.demo)
    conv = str((await visitor.send_and_ack("hello"))["conv"])
    for _ in range(50):  # routing settles the first message in the background
        row = t.conversation(conv)
        if row.offline:  # nobody is online: set by the same UPDATE as the department
            break
        await asyncio.sleep(0.1)
    assert row.offline and row.department_id is None
