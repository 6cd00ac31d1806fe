"""The installer's check, run against SimulatedGate with inputs driven by the test."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

from drivers.base import Input, Read, ReadCallback
from drivers.gpio import GatePins, SimulatedGate
from drivers.health import HealthCallback, ReaderHealth
from drivers.hwtest import ReaderFactory, run_hw_test


class FakeReader:
    """A reader the test "shows a card" to."""

    def __init__(self, name: str, on_read: ReadCallback, on_health: HealthCallback | None):
        self.name = name
        self.on_read = on_read
        self.on_health = on_health
        self.started = threading.Event()
        self.closed = False

    def start(self) -> None:
        if self.on_health is not None:
            self.on_health(ReaderHealth(self.name, True, "open"))
        self.started.set()

    def close(self) -> None:
        self.closed = True

    def present(self, credential: str | None) -> None:
        error = None if credential else "checksum error"
        self.on_read(Read(self.name, credential, error=error))


class Factory:
    def __init__(self, name: str, *, broken: bool = False) -> None:
        self.name = name
        self.broken = broken
        self.made: list[FakeReader] = []
        self.ready = threading.Event()

    def __call__(
        self, *, on_read: ReadCallback, on_health: HealthCallback | None, on_input: object = None
    ) -> FakeReader:
        reader = FakeReader(self.name, on_read, on_health)
        if self.broken:
            reader.start = self._refuse  # type: ignore[method-assign]
        self.made.append(reader)
        self.ready.set()
        return reader

    @staticmethod
    def _refuse() -> None:
        raise ImportError("keyboard readers need the 'evdev' package")


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Run:
    """run_hw_test in a thread, so the test can play the installer."""

    def __init__(self, gate: SimulatedGate, readers: dict[str, ReaderFactory], wait: float):
        self.out = io.StringIO()
        self.clock = Clock()
        self.result: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(gate, readers, wait), daemon=True)
        self._thread.start()

    def _run(self, gate: SimulatedGate, readers: dict[str, ReaderFactory], wait: float) -> None:
        self.result = run_hw_test(gate, readers, self.out, wait=wait, pause=0.0, clock=self.clock)

    def join(self) -> dict[str, Any]:
        self._thread.join(timeout=10.0)
        assert not self._thread.is_alive()
        return self.result


def test_everything_seen_ends_early() -> None:
    gate = SimulatedGate(GatePins(tamper=24))
    lock = gate.pin_factory.pin(gate.pins.lock)
    entrance, desk = Factory("entrance"), Factory("desk")
    run = Run(gate, {"entrance": entrance, "desk": desk}, wait=30.0)
    assert entrance.ready.wait(5.0) and desk.ready.wait(5.0)
    assert entrance.made[0].started.wait(5.0) and desk.made[0].started.wait(5.0)
    for inp in gate.inputs:
        gate.drive(inp, True)
        gate.drive(inp, False)
    entrance.made[0].present(None)  # a bad read alone does not tick the reader
    entrance.made[0].present("card:0003887558")
    desk.made[0].present("card:0004567890")
    result = run.join()
    assert result["complete"] is True
    assert result["missing"] == []
    assert result["outputs"] == {
        "relay": "clicked",
        "buzzer": "beeped",
        "leds": ["green", "red", "amber"],
    }
    assert result["inputs"] == {
        str(inp): {"initial": False, "triggered": True} for inp in gate.inputs
    }
    assert result["readers"]["entrance"] == {
        "reads": ["bad read: checksum error", "card:0003887558"],
        "read_ok": True,
        "health": "ok",
    }
    assert entrance.made[0].closed and desk.made[0].closed
    # The relay clicked once (release, lock) and was left locked.
    assert [s.state for s in lock.states] == [False, True, False]
    assert gate.lock_released is False
    json.dumps(result)  # ready to be recorded as the day's check
    assert "relay: release" in run.out.getvalue()
    assert run.out.getvalue().splitlines()[-1] == "complete"
    gate.close()


def test_missing_things_are_listed_at_the_deadline() -> None:
    gate = SimulatedGate()
    gate.drive(Input.FIRE_ALARM, True)  # an alarm already active before the check
    entrance, desk = Factory("entrance"), Factory("desk", broken=True)
    run = Run(gate, {"entrance": entrance, "desk": desk}, wait=60.0)
    assert entrance.ready.wait(5.0) and entrance.made[0].started.wait(5.0)
    gate.drive(Input.DOOR, True)
    run.clock.t = 60.0  # the deadline passes...
    gate.drive(Input.DOOR, False)  # ...and the next event wakes the check to notice
    result = run.join()
    assert result["complete"] is False
    assert result["missing"] == [
        "input:exit_button",
        "input:fire_alarm",
        "reader:entrance",
        "reader:desk",
    ]
    assert result["inputs"]["fire_alarm"] == {"initial": True, "triggered": False}
    assert result["inputs"]["door"] == {"initial": False, "triggered": True}
    assert result["readers"]["desk"]["health"].startswith("cannot start")
    assert "not seen: input:exit_button" in run.out.getvalue()
    gate.close()


def test_beeps_and_lights_each_led_in_turn() -> None:
    gate = SimulatedGate(GatePins(led_amber=None))
    factory, pins = gate.pin_factory, gate.pins
    result = run_hw_test(gate, {}, io.StringIO(), wait=0.0, pause=0.0)
    assert result["outputs"]["leds"] == ["green", "red"]
    for number in (pins.led_green, pins.led_red):
        assert [s.state for s in factory.pin(number).states] == [False, True, False]
    buzzer = factory.pin(pins.buzzer)
    pause = threading.Event()
    for _ in range(1000):  # the beep is gpiozero's blink thread; give it its turn
        if len(buzzer.states) >= 3:
            break
        pause.wait(0.005)
    assert [s.state for s in buzzer.states] == [False, True, False]
    gate.close()
