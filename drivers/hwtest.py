"""The installer's hardware check: outputs first, then every input and reader by hand.

Run it with the gate daemon stopped (it needs the pins and ports). It clicks the
relay (release, then lock), beeps, lights each LED in turn, then waits until each
wired input has been triggered and each reader has read a card, or until the
deadline. It writes what it does and sees to ``out`` as it goes and returns a
JSON-ready dict, which the caller can record as the day's device check.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TextIO

from drivers.base import Feedback, Input, InputChange, Read, ReadCallback, Reader
from drivers.health import HealthCallback, ReaderHealth

Seen = InputChange | Read | ReaderHealth


class CheckableGate(Protocol):
    """What the check needs from a gate (``GpioGate`` and ``SimulatedGate`` have it)."""

    @property
    def leds(self) -> tuple[str, ...]: ...

    @property
    def inputs(self) -> tuple[Input, ...]: ...

    def set_lock(self, released: bool) -> None: ...

    def beep(self, seconds: float) -> None: ...

    def set_led(self, color: str, on: bool) -> None: ...

    def read_inputs(self) -> dict[Input, bool]: ...

    def on_input(self, callback: Callable[[InputChange], None]) -> None: ...


class ReaderFactory(Protocol):
    """Builds a reader whose reads go to the given callbacks (a reader class, bound).

    ``on_input`` hears a reader's own switches (an OSDP reader's tamper).
    """

    def __call__(
        self,
        *,
        on_read: ReadCallback,
        on_health: HealthCallback | None,
        on_input: Callable[[InputChange], None] | None,
    ) -> Reader: ...


def run_hw_test(
    gate: CheckableGate,
    readers: Mapping[str, ReaderFactory],
    out: TextIO,
    *,
    wait: float = 60.0,
    pause: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Check the outputs, then report inputs and readers as they are triggered."""
    result: dict[str, Any] = {"outputs": _check_outputs(gate, out, pause)}
    seen: queue.Queue[Seen] = queue.Queue()
    initial = gate.read_inputs()
    result["inputs"] = {
        str(inp): {"initial": active, "triggered": False} for inp, active in initial.items()
    }
    result["readers"] = {name: {"reads": [], "read_ok": False, "health": None} for name in readers}
    gate.on_input(seen.put)
    started = _start_readers(readers, seen.put, out)
    try:
        _say(out, f"waiting up to {wait:.0f} s: trigger each input, show a card to each reader")
        _watch(result, seen, out, clock() + wait, clock, started)
    finally:
        for reader in started:
            reader.close()
        gate.set_lock(False)
    missing = [f"input:{name}" for name, r in result["inputs"].items() if not r["triggered"]]
    missing += [f"reader:{name}" for name, r in result["readers"].items() if not r["read_ok"]]
    result["missing"] = missing
    result["complete"] = not missing
    _say(out, "complete" if not missing else "not seen: " + ", ".join(missing))
    return result


def _say(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()


def _check_outputs(gate: CheckableGate, out: TextIO, pause: float) -> dict[str, Any]:
    hold = threading.Event()  # never set: a pause that is not time.sleep
    _say(out, "relay: release")
    gate.set_lock(True)
    hold.wait(pause)
    _say(out, "relay: lock")
    gate.set_lock(False)
    _say(out, "buzzer: beep")
    gate.beep(pause)
    hold.wait(pause)
    for color in gate.leds:
        _say(out, f"led {color}: on")
        gate.set_led(color, True)
        hold.wait(pause)
        gate.set_led(color, False)
    return {"relay": "clicked", "buzzer": "beeped", "leds": list(gate.leds)}


def _start_readers(
    readers: Mapping[str, ReaderFactory], put: Callable[[Seen], None], out: TextIO
) -> list[Reader]:
    started: list[Reader] = []
    for name, factory in readers.items():
        reader = factory(on_read=put, on_health=put, on_input=put)
        try:
            reader.start()
        except Exception as exc:  # a missing driver is a finding, not a crash
            _say(out, f"reader {name}: cannot start: {exc}")
            put(ReaderHealth(name, False, f"cannot start: {exc}"))
            continue
        started.append(reader)
    return started


def _watch(
    result: dict[str, Any],
    seen: queue.Queue[Seen],
    out: TextIO,
    deadline: float,
    clock: Callable[[], float],
    readers: list[Reader],
) -> None:
    while not _all_seen(result):
        left = deadline - clock()
        if left <= 0:
            return
        try:
            item = seen.get(timeout=left)
        except queue.Empty:
            return
        _record(result, item, out)
        if isinstance(item, Read):
            _answer(readers, item)


def _answer(readers: list[Reader], read: Read) -> None:
    """A reader with its own lights (OSDP) shows green for a good read, red for a bad one."""
    for reader in readers:
        show = getattr(reader, "show", None)
        if reader.name == read.reader and callable(show):
            show(Feedback.GRANTED if read.credential else Feedback.DENIED)


def _all_seen(result: dict[str, Any]) -> bool:
    inputs = all(r["triggered"] for r in result["inputs"].values())
    return inputs and all(r["read_ok"] for r in result["readers"].values())


def _record(result: dict[str, Any], item: Seen, out: TextIO) -> None:
    if isinstance(item, InputChange) and item.source:
        # a reader's own switch: reported, not one of the gate's inputs to tick off
        _say(out, f"reader {item.source}: {item.input} {'active' if item.active else 'inactive'}")
    elif isinstance(item, InputChange):
        entry = result["inputs"].get(str(item.input))
        if entry is not None and item.active:
            entry["triggered"] = True
        _say(out, f"input {item.input}: {'active' if item.active else 'inactive'}")
    elif isinstance(item, Read):
        # A bad read proves the wiring but not the format: it does not tick the reader.
        what = item.credential or f"bad read: {item.error}"
        entry = result["readers"].get(item.reader)
        if entry is not None:
            entry["reads"].append(what)
            entry["read_ok"] = entry["read_ok"] or item.credential is not None
        _say(out, f"reader {item.reader}: {what}")
    else:
        entry = result["readers"].get(item.reader)
        if entry is not None:
            entry["health"] = "ok" if item.ok else item.detail
        _say(out, f"reader {item.reader}: {'ok' if item.ok else item.detail}")
