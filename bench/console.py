#!/usr/bin/env python3
"""The agent console at call-center scale (issue #22): a deep queue, many tabs, a burst.

The real console (``tui_agent``) runs headless in this process under Textual's
``run_test``; a spawned node serves it; a generator *subprocess* (this script with
``--generator``) plays the visitors, so the CPU and memory figures are the console's
alone. See bench/README.md for what every figure means.

    python bench/console.py                          # 1,000 waiting, 50 tabs, 500 events in 2 s
    python bench/console.py --waiting 300 --tabs 10 --burst 200 --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from _client import Account, Conn, Demo, agent_login, visitor_session, ws_base
from _server import SpawnedServer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SIZE = (130, 40)
KEY_EVERY_SECS = 0.1
SETTLE_LIMIT_SECS = 60.0
CONCURRENCY = 20


# ---------------------------------------------------------------- generator (subprocess)


class Generator:
    """The visitors: waiting ones, the open tabs' ones, and the burst's."""

    def __init__(self, url: str, demo: Demo) -> None:
        self.url = url
        self.demo = demo
        self.http = httpx.AsyncClient(base_url=url, timeout=30)
        self.tab_visitors: list[tuple[Conn, str]] = []
        self.burst_visitors: list[Conn] = []

    async def _visitor(self, name: str) -> Conn:
        token = await visitor_session(self.http, self.demo.site_key)
        conn = await Conn.connect(ws_base(self.url) + "/ws/visitor", name)
        await conn.hello(token)
        return conn

    async def _first_message(self, conn: Conn, body: str) -> str:
        fut = conn.expect(lambda f: f.get("type") == "ack", lambda f: True)
        await conn.send({"type": "send", "cid": os.urandom(8).hex(), "body": body})
        return str((await conn.wait(fut, "ack"))["conv"])

    async def _many(self, count: int, make: Callable[[int], Any]) -> list[Any]:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int) -> Any:
            async with gate:
                return await make(i)

        return list(await asyncio.gather(*(one(i) for i in range(count))))

    async def tabs(self, count: int, account: Account) -> list[str]:
        async def make(i: int) -> tuple[Conn, str]:
            conn = await self._visitor(f"tab{i}")
            return conn, await self._first_message(conn, f"Tab visitor {i} needs help")

        self.tab_visitors = await self._many(count, make)
        token = await agent_login(self.http, self.demo.tenant, account)
        agent = await Conn.connect(ws_base(self.url) + "/ws/agent", "accepter")
        await agent.hello(token)
        for _, conv in self.tab_visitors:
            fut = agent.expect(
                lambda f, c=conv: f.get("name") == "conv.assigned" and f.get("conv") == c
            )
            await agent.send({"type": "accept", "conv": conv})
            await agent.wait(fut, "conv.assigned")
        await agent.close()
        return [conv for _, conv in self.tab_visitors]

    async def waiting(self, count: int) -> None:
        async def make(i: int) -> None:
            conn = await self._visitor(f"wait{i}")
            await self._first_message(conn, f"Waiting visitor {i}: where is my parcel?")
            await conn.close()

        await self._many(count, make)

    async def prepare_burst(self, count: int) -> None:
        self.burst_visitors = await self._many(count, lambda i: self._visitor(f"burst{i}"))

    async def burst(self, secs: float) -> int:
        """New chats from the burst visitors and a message in every tab, spread evenly."""
        sends: list[tuple[Conn, dict[str, Any]]] = [
            (conn, {"type": "send", "cid": os.urandom(8).hex(), "body": f"Burst {i}"})
            for i, conn in enumerate(self.burst_visitors)
        ]
        for i, (conn, conv) in enumerate(self.tab_visitors):
            frame = {"type": "send", "conv": conv, "cid": os.urandom(8).hex(), "body": f"More {i}"}
            sends.insert(i * len(sends) // max(1, len(self.tab_visitors)), (conn, frame))
        start = time.perf_counter()
        for index, (conn, frame) in enumerate(sends):
            delay = start + secs * index / len(sends) - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await conn.send(frame)
        return len(sends)


async def generator_main(url: str, demo_json: str) -> None:
    gen = Generator(url, Demo.parse(demo_json))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        command, *args = line.split()
        result: Any = None
        if command == "tabs":
            result = await gen.tabs(int(args[0]), Account(args[1], args[2]))
        elif command == "waiting":
            await gen.waiting(int(args[0]))
        elif command == "prepare_burst":
            await gen.prepare_burst(int(args[0]))
        elif command == "burst":
            result = await gen.burst(float(args[0]))
        print(json.dumps({"done": command, "result": result}), flush=True)


class GeneratorProcess:
    def __init__(self, url: str, demo: Demo, demo_json: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--generator", url, demo_json],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    async def ask(self, command: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = await asyncio.to_thread(self.proc.stdout.readline)
        if not line:
            raise RuntimeError(f"the generator died during {command!r}")
        return json.loads(line)["result"]

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ---------------------------------------------------------------- the console under test


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Paints:
    """Times of the screen updates the app would write to a terminal (and, in ``cpu``,
    the console's CPU seconds at each one that a waiter was told of)."""

    def __init__(self, app: Any) -> None:
        self.waiters: list[tuple[Callable[[], bool], asyncio.Future[float]]] = []
        self.cpu: dict[float, float] = {}  # perf_counter of a paint -> process CPU then
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None or not self.waiters:
                return
            now = time.perf_counter()
            self.cpu[now] = time.process_time()
            for check, fut in list(self.waiters):
                if not fut.done() and check():
                    fut.set_result(now)
            self.waiters = [(c, f) for c, f in self.waiters if not f.done()]

        app._display = display

    async def first_after(self, check: Callable[[], bool], within: float) -> float | None:
        """When the first screen update is written on which ``check`` holds."""
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters.append((check, fut))
        try:
            return await asyncio.wait_for(fut, within)
        except TimeoutError:
            return None


def queue_title(screen: Any) -> str:
    return str(screen.query_one("#queue").border_title or "")


def whoami(screen: Any) -> str:
    shown = screen.query_one("#whoami").render()
    return str(getattr(shown, "plain", shown))


async def run_console(
    args: argparse.Namespace, server: SpawnedServer, demo: Demo, gen: GeneratorProcess
) -> dict[str, Any]:
    from tui_agent.app import AgentConsole
    from tui_agent.config import SavedSession, save_session
    from tui_agent.screens.main import MainScreen
    from tui_agent.screens.status import StatusScreen

    account = demo.agents[0]
    async with httpx.AsyncClient(base_url=server.url) as http:
        login = (
            await http.post(
                "/api/v1/auth/login",
                json={"tenant": demo.tenant, "email": account.email, "password": account.password},
            )
        ).json()
    config = Path(tempfile.mkdtemp(prefix="steadybench-console-"))
    save_session(
        SavedSession(
            server.url,
            demo.tenant,
            account.email,
            login["token"],
            login["expires_at"],
            dict(login["agent"]),
        ),
        config,
    )
    waiting = args.waiting
    result: dict[str, Any] = {"config": vars(args).copy()}
    app = AgentConsole(config_path=config)
    app.bell = lambda: None  # type: ignore[method-assign]
    welcomed: list[float] = []
    cpu0 = time.process_time()
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        paints = Paints(app)
        while not any(isinstance(s, MainScreen) for s in app.screen_stack):
            await pilot.pause(0.01)
        screen = next(s for s in app.screen_stack if isinstance(s, MainScreen))
        original_welcome = screen.client._on_welcome

        def on_welcome(frame: dict[str, Any]) -> None:
            welcomed.append(time.perf_counter())
            original_welcome(frame)
            app.simulate_key("ctrl+s")  # the agent's first key, as soon as it can be

        screen.client._on_welcome = on_welcome  # type: ignore[method-assign]
        status_shown = asyncio.ensure_future(
            paints.first_after(lambda: isinstance(app.screen, StatusScreen), 60)
        )
        count_shown = asyncio.ensure_future(
            paints.first_after(lambda: f"({waiting})" in queue_title(screen), 60)
        )
        online_shown = asyncio.ensure_future(
            paints.first_after(lambda: "status: online" in whoami(screen), 60)
        )
        t_status, t_count, t_online = await asyncio.gather(status_shown, count_shown, online_shown)
        welcome = welcomed[0] if welcomed else started

        def since(mark: float | None) -> float | None:
            return None if mark is None else round((mark - welcome) * 1000, 1)

        usable = [t for t in (t_status, t_count, t_online) if t is not None]
        result["login"] = {
            "start_to_welcome_ms": round((welcome - started) * 1000, 1),
            "welcome_to_key_shown_ms": since(t_status),
            "welcome_to_true_count_ms": since(t_count),
            "welcome_to_online_ms": since(t_online),
            "welcome_to_usable_ms": since(max(usable)) if len(usable) == 3 else None,
            "queue_title": queue_title(screen),
            "cpu_s": round(time.process_time() - cpu0, 2),
        }
        app.simulate_key("escape")
        await pilot.pause(0.2)

        mine_loaded = time.perf_counter()
        while len(screen.desk.mine()) < args.tabs:
            await pilot.pause(0.05)
            if time.perf_counter() - mine_loaded > SETTLE_LIMIT_SECS:
                break
        opening: list[float] = []  # the console's CPU per tab opened, until it is painted
        for conv in [c.id for c in screen.desk.mine()][: args.tabs]:
            cpu_open = time.process_time()
            await screen.open_tab(conv)
            if await paints.first_after(lambda c=conv: screen.active == c, 10) is not None:
                opening.append((time.process_time() - cpu_open) * 1000)
        await pilot.pause(0.5)
        result["steady"] = {
            "rss_mib": round(rss_mib(), 1),
            "tabs": len(screen.tab_ids),
            "open_tab_cpu_ms_p50": round(statistics.median(opening), 1) if opening else None,
            "open_tab_cpu_ms_max": round(max(opening), 1) if opening else None,
        }

        # The burst, with the agent pressing keys all along.
        latencies: dict[str, list[float]] = {}
        cpu_ms: dict[str, list[float]] = {}  # the console's CPU from the key to its screen
        missed: dict[str, int] = {}
        queue = screen.query_one("#queue")

        down_target: list[int] = []  # where the arrows pressed so far should land

        def condition(key: str) -> Callable[[], bool] | None:
            """What shows that ``key`` was handled; None when it has nothing to show (the
            queue has the focus already, or a grab moved it to the message box)."""
            if key == "alt+q":
                down_target.clear()
                return None if queue.has_focus else (lambda: queue.has_focus)
            if key == "down":
                if not queue.has_focus:
                    return None
                target = (down_target[-1] if down_target else (queue.highlighted or 0)) + 1
                down_target.append(target)
                return lambda: (queue.highlighted or 0) >= target
            before_active = screen.active
            if key == "ctrl+g":  # the row says "taking…" before the server answers
                taking = getattr(screen, "_accepting", set())
                before_taking = set(taking)
                return lambda: bool(taking - before_taking) or screen.active != before_active
            return lambda: screen.active != before_active

        cpu_burst = time.process_time()
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        layouts: dict[str, int] = {}
        if args.profile:
            from collections import Counter

            from textual.widget import Widget

            layouts = Counter()
            original_refresh = Widget.refresh

            def counting_refresh(self: Any, *regions: Any, layout: bool = False, **kw: Any) -> Any:
                if layout:
                    layouts[type(self).__name__] += 1
                return original_refresh(self, *regions, layout=layout, **kw)

            Widget.refresh = counting_refresh  # type: ignore[method-assign]

            # What the screen itself did: whole-screen layouts and whole-screen repaints
            # (every widget drawn again), each a frame's worth of CPU with 50 tabs.
            from textual._compositor import Compositor
            from textual.screen import Screen as TextualScreen

            original_layout = TextualScreen._refresh_layout
            original_full = Compositor.render_full_update

            def counting_layout(self: Any, *args: Any, **kw: Any) -> Any:
                layouts["(screen layouts)"] += 1
                return original_layout(self, *args, **kw)

            def counting_full(self: Any, *args: Any, **kw: Any) -> Any:
                layouts["(full repaints)"] += 1
                return original_full(self, *args, **kw)

            TextualScreen._refresh_layout = counting_layout  # type: ignore[method-assign]
            Compositor.render_full_update = counting_full  # type: ignore[method-assign]
        burst = asyncio.ensure_future(gen.ask(f"burst {args.burst_secs}"))
        # Keys at a steady pace (one every KEY_EVERY_SECS, not waiting for the last to
        # show): the queue list's arrow, next unread, back to the queue, grab.
        keys = ["down", "down", "ctrl+n", "alt+q", "down", "down", "ctrl+g", "alt+q"]
        pressed = 0
        outstanding: list[tuple[str, float, float, asyncio.Future[float | None]]] = []
        await pilot.press("alt+q")
        burst_started = time.perf_counter()
        while not burst.done() or time.perf_counter() - burst_started < args.burst_secs:
            key = keys[pressed % len(keys)]
            pressed += 1
            check = condition(key)
            t0, cpu0_key = time.perf_counter(), time.process_time()
            if check is not None:
                shown = asyncio.ensure_future(paints.first_after(check, 5))
                outstanding.append((key, t0, cpu0_key, shown))
            if key == "ctrl+g":  # and, apart, until the grabbed chat is open
                opened = asyncio.ensure_future(
                    paints.first_after(lambda a=screen.active: screen.active != a, 10)
                )
                outstanding.append(("ctrl+g->open", t0, cpu0_key, opened))
            app.simulate_key(key)
            await asyncio.sleep(max(0.0, KEY_EVERY_SECS - (time.perf_counter() - t0)))
        for key, t0, cpu0_key, waiter in outstanding:
            painted = await waiter
            if painted is None:
                missed[key] = missed.get(key, 0) + 1
            else:
                latencies.setdefault(key, []).append((painted - t0) * 1000)
                cpu_ms.setdefault(key, []).append((paints.cpu[painted] - cpu0_key) * 1000)
        events = await burst
        grabbed = len(latencies.get("ctrl+g->open", []))
        expected = waiting + args.burst - grabbed
        settled = await paints.first_after(
            lambda: f"({expected})" in queue_title(screen), SETTLE_LIMIT_SECS
        )
        if profiler is not None:
            import pstats

            profiler.disable()
            print(
                f"layouts asked for during the burst, by widget: {dict(layouts)}", file=sys.stderr
            )
            stats = pstats.Stats(profiler, stream=sys.stderr)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(60)
            stats.print_callers("strip.py:94")
        all_keys = [v for k, values in latencies.items() if "->" not in k for v in values]
        all_cpu = [v for k, values in cpu_ms.items() if "->" not in k for v in values]
        result["burst"] = {
            "events": events,
            "keys_pressed": pressed,
            "keys_not_shown_within_5s": missed,
            "key_to_screen_ms": {
                "p50": round(statistics.median(all_keys), 1) if all_keys else None,
                "p99": round(pct(all_keys, 99) or 0, 1) if all_keys else None,
                "max": round(max(all_keys), 1) if all_keys else None,
            },
            "per_key_p50_ms": {
                k: round(statistics.median(v), 1) for k, v in sorted(latencies.items())
            },
            "per_key_max_ms": {k: round(max(v), 1) for k, v in sorted(latencies.items())},
            # The console's own CPU from each key to the screen showing it (everything it
            # did meanwhile, the burst's events too): what a loaded machine's waiting for
            # a core does not inflate.
            "key_to_screen_cpu_ms": {
                "p50": round(statistics.median(all_cpu), 1) if all_cpu else None,
                "p99": round(pct(all_cpu, 99) or 0, 1) if all_cpu else None,
            },
            "per_key_cpu_p50_ms": {
                k: round(statistics.median(v), 1) for k, v in sorted(cpu_ms.items())
            },
            "per_key_cpu_max_ms": {k: round(max(v), 1) for k, v in sorted(cpu_ms.items())},
            "burst_start_to_settled_ms": (
                round((settled - burst_started) * 1000, 1) if settled else None
            ),
            "queue_title": queue_title(screen),
            "expected_count": expected,
            "cpu_s": round(time.process_time() - cpu_burst, 2),
            "rss_mib": round(rss_mib(), 1),
        }
    return result


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    server = SpawnedServer(args.spawn)
    demo, _, _ = server.start()
    demo_json = json.dumps(
        {
            "tenant": demo.tenant,
            "site_key": demo.site_key,
            "site_secret": "",
            "origin": "",
            "admin": {"email": demo.admin.email, "password": demo.admin.password},
            "agents": [{"email": a.email, "password": a.password} for a in demo.agents],
        }
    )
    gen = GeneratorProcess(server.url, demo, demo_json)
    try:
        t0 = time.perf_counter()
        account = demo.agents[0]
        await gen.ask(f"tabs {args.tabs} {account.email} {account.password}")
        await gen.ask(f"waiting {args.waiting}")
        await gen.ask(f"prepare_burst {args.burst}")
        print(f"setup: {time.perf_counter() - t0:.1f} s (not measured)", file=sys.stderr)
        return await run_console(args, server, demo, gen)
    finally:
        gen.stop()
        server.stop()


def human(result: dict[str, Any]) -> str:
    login, steady, burst = result["login"], result["steady"], result["burst"]
    keys = burst["key_to_screen_ms"]
    return "\n".join(
        [
            f"login: welcome after {login['start_to_welcome_ms']} ms; from the welcome: "
            f"first key shown {login['welcome_to_key_shown_ms']} ms, true count "
            f"{login['welcome_to_true_count_ms']} ms, status online "
            f"{login['welcome_to_online_ms']} ms -> usable {login['welcome_to_usable_ms']} ms "
            f"({login['queue_title']}); CPU {login['cpu_s']} s",
            f"steady: {steady['tabs']} tabs, RSS {steady['rss_mib']} MiB; opening a tab: "
            f"console CPU p50 {steady['open_tab_cpu_ms_p50']} ms, max "
            f"{steady['open_tab_cpu_ms_max']} ms (until painted)",
            f"burst: {burst['events']} events in {result['config']['burst_secs']} s, "
            f"{burst['keys_pressed']} keys: key->screen p50 {keys['p50']} ms, p99 {keys['p99']} "
            f"ms, max {keys['max']} ms (per key p50 {burst['per_key_p50_ms']}, max "
            f"{burst['per_key_max_ms']}; not shown "
            f"within 5 s: {burst['keys_not_shown_within_5s'] or 'none'}); console CPU key->screen "
            f"p50 {burst['key_to_screen_cpu_ms']['p50']} ms, p99 "
            f"{burst['key_to_screen_cpu_ms']['p99']} ms (per key p50 "
            f"{burst['per_key_cpu_p50_ms']}, max {burst['per_key_cpu_max_ms']}); settled after "
            f"{burst['burst_start_to_settled_ms']} ms at {burst['queue_title']!r} "
            f"(expected {burst['expected_count']}); CPU {burst['cpu_s']} s; "
            f"RSS {burst['rss_mib']} MiB",
        ]
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--generator":
        asyncio.run(generator_main(sys.argv[2], sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spawn", choices=("sqlite", "mysql"), default="sqlite")
    parser.add_argument("--waiting", type=int, default=1000, help="conversations waiting")
    parser.add_argument("--tabs", type=int, default=50, help="open conversations in tabs")
    parser.add_argument("--burst", type=int, default=450, help="new chats in the burst")
    parser.add_argument("--burst-secs", type=float, default=2.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the burst (stderr)")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print(human(result), file=sys.stderr)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
