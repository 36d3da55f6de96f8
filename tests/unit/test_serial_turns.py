"""The lock that lets ``serial`` tests run alone on xdist workers (tests/support/serial.py):
a serial test waits for the running ones, and ones that come after it wait for it."""

from __future__ import annotations

import secrets
import threading
import time

from tests.support.serial import run_id, turn


def test_only_xdist_workers_take_turns() -> None:
    assert run_id(object()) is None, "the controller, or a pytest without xdist"
    worker = type("WorkerConfig", (), {"workerinput": {"testrunuid": "abc"}})()
    assert run_id(worker) == "abc"
    with turn(None, serial=True), turn(None, serial=True):
        pass  # outside a worker: no lock, so nesting cannot wait


def test_a_serial_test_waits_for_the_running_ones_and_holds_back_later_ones() -> None:
    run = "unit-" + secrets.token_hex(4)
    events: list[str] = []
    release_first = threading.Event()

    def ordinary(name: str, started: threading.Event, hold: threading.Event | None) -> None:
        with turn(run, serial=False):
            events.append(f"{name} in")
            started.set()
            if hold is not None:
                hold.wait(10)
            events.append(f"{name} out")

    def serial() -> None:
        with turn(run, serial=True):
            events.append("serial in")
            time.sleep(0.2)
            events.append("serial out")

    first_in = threading.Event()
    first = threading.Thread(target=ordinary, args=("first", first_in, release_first))
    first.start()
    assert first_in.wait(10)
    second_in = threading.Event()
    second = threading.Thread(target=ordinary, args=("second", second_in, None))
    second.start()
    assert second_in.wait(10), "ordinary tests run side by side"
    second.join(10)
    alone = threading.Thread(target=serial)
    alone.start()
    time.sleep(0.2)
    assert "serial in" not in events, "the serial test waits for the running one"
    third_in = threading.Event()
    third = threading.Thread(target=ordinary, args=("third", third_in, None))
    third.start()
    time.sleep(0.2)
    assert not third_in.is_set(), "a test after the waiting serial one waits behind it"
    release_first.set()
    for thread in (first, alone, third):
        thread.join(10)
    assert events.index("first out") < events.index("serial in")
    assert events.index("serial out") < events.index("third in")
