"""The console's queue count is what the agent may serve (issue #17, item 2): the REST
total it starts from and the live events it follows cover the same conversations, and
with automatic routing (no card for what another agent is offered) the count follows
``queue.summary``."""

from __future__ import annotations

from pathlib import Path

from tests.routing.support import new_tenant
from tests.support.clients import Clients
from tests.support.server import ServerProcess
from tests.tui.conftest import SIZE, connected, console, save_login, wait_until
from tests.tui.test_deep_queue import queue_title


async def test_queue_count_is_what_the_agent_may_serve(
    server: ServerProcess, config_dir: Path, clients: Clients
) -> None:
    t = await new_tenant(server)
    sales = t.department("Sales", [0, 1], policy="round_robin")
    support = t.department("Support", [1])
    t.set_capacity(0, 0)  # the console's agent is never offered one: its colleague is
    colleague = await t.agent(clients, 1)

    async def waiting_in(department: str, body: str) -> str:
        resp = await t.session(department=department)
        assert resp.status_code == 200, resp.text
        visitor = await clients.visitor(t.server, session=resp.json(), demo=t.demo)
        return str((await visitor.send_and_ack(body))["conv"])

    await waiting_in(support, "not for the console's agent")
    await save_login(server, config_dir, t.demo.agents[0], demo=t.demo)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        state = screen.desk.lists["queue"]
        await wait_until(pilot, lambda: state.loaded, "queue loaded")
        # Before: the REST total counted every department's queue: "Queue (1)".
        await wait_until(pilot, lambda: "(0)" in queue_title(screen), "nothing to serve")
        assert state.server_total == 0

        conv = await waiting_in(sales, "a quote, please")
        await colleague.recv_event("conv.offered", conv, 10)
        await wait_until(pilot, lambda: "(1)" in queue_title(screen), "counted from the summary")
        assert conv not in state.ids, "offered to the colleague: no card here"

        await waiting_in(support, "still not for the console's agent")
        await pilot.pause(2.5)  # more than a summary period
        assert "(1)" in queue_title(screen), queue_title(screen)

        await colleague.send_json({"type": "accept", "conv": conv})
        await wait_until(pilot, lambda: "(0)" in queue_title(screen), "taken off the count")
