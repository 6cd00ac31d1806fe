"""Gate pins on gpiozero's MockFactory: a lock that never pulses, inputs, feedback."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from gpiozero import DigitalOutputDevice
from gpiozero.pins.mock import MockFactory, MockPin

from drivers.base import Feedback, Input, InputChange
from drivers.gpio import PATTERNS, GatePins, GpioGate, LockKind, Pull, SimulatedGate

FAST = 0.001  # tempo for feedback patterns: a 0.1 s beep lasts 0.1 ms
COMBOS = [(high, kind) for high in (True, False) for kind in ("fail_secure", "fail_safe")]


def levels(pin: MockPin) -> list[bool]:
    return [s.state for s in pin.states]


def locked_level(pins: GatePins) -> bool:
    """The pin level of a locked lock: relay off for fail_secure, on for fail_safe."""
    relay_on = pins.lock_kind == "fail_safe"
    return relay_on == pins.lock_active_high


def idle_lock_pin(factory: MockFactory, pins: GatePins) -> MockPin:
    """The relay pin as the hardware holds it before the daemon starts: at its locked
    level (the relay board's bias resistor), with no history yet."""
    pin = factory.pin(pins.lock)
    if locked_level(pins):
        pin.drive_high()
    pin.clear_states()
    return pin


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    pause = threading.Event()
    for _ in range(int(timeout / 0.005)):
        if check():
            return
        pause.wait(0.005)
    assert check()


# -- the lock ------------------------------------------------------------------------


@pytest.mark.parametrize(("active_high", "kind"), COMBOS)
def test_lock_comes_up_locked_without_a_pulse(active_high: bool, kind: LockKind) -> None:
    pins = GatePins(lock_active_high=active_high, lock_kind=kind)
    factory = MockFactory()
    pin = idle_lock_pin(factory, pins)
    gate = GpioGate(pins, pin_factory=factory)
    assert levels(pin) == [locked_level(pins)]  # exactly one entry: no blip at all
    assert pin.function == "output"
    assert gate.lock_released is False
    gate.close()


@pytest.mark.parametrize(("active_high", "kind"), COMBOS)
def test_lock_comes_up_locked_from_a_floating_pin(active_high: bool, kind: LockKind) -> None:
    pins = GatePins(lock_active_high=active_high, lock_kind=kind)
    factory = MockFactory()
    pin = factory.pin(pins.lock)  # an input, reading low
    gate = SimulatedGate(pins, pin_factory=factory)
    expected = [False, True] if locked_level(pins) else [False]
    assert levels(pin) == expected  # straight to locked, never through released
    gate.close()


def test_a_relay_made_without_initial_state_does_pulse() -> None:
    """The check above can fail: gpiozero's default (off) is 'released' for a maglock."""
    pins = GatePins(lock_kind="fail_safe")
    factory = MockFactory()
    pin = idle_lock_pin(factory, pins)
    relay = DigitalOutputDevice(pins.lock, pin_factory=factory)
    relay.on()
    assert levels(pin) == [True, False, True]
    relay.close()


@pytest.mark.parametrize(("active_high", "kind"), COMBOS)
def test_release_and_lock(active_high: bool, kind: LockKind) -> None:
    pins = GatePins(lock_active_high=active_high, lock_kind=kind)
    factory = MockFactory()
    pin = idle_lock_pin(factory, pins)
    gate = SimulatedGate(pins, pin_factory=factory)
    locked = locked_level(pins)
    gate.set_lock(False)  # already locked: no change, no entry
    gate.set_lock(True)
    assert gate.lock_released is True
    gate.set_lock(True)
    gate.set_lock(False)
    assert gate.lock_released is False
    assert levels(pin) == [locked, not locked, locked]
    gate.close()


@pytest.mark.parametrize(("active_high", "kind"), COMBOS)
def test_close_leaves_the_lock_locked(active_high: bool, kind: LockKind) -> None:
    pins = GatePins(lock_active_high=active_high, lock_kind=kind)
    factory = MockFactory()
    pin = idle_lock_pin(factory, pins)
    gate = SimulatedGate(pins, pin_factory=factory)
    locked = locked_level(pins)
    gate.set_lock(True)
    gate.close()
    gate.close()
    assert levels(pin) == [locked, not locked, locked]
    assert gate.lock_released is False
    # fail_secure: the pin is handed back (it floats; the relay is off = locked).
    # fail_safe: the pin stays driven, or the maglock would let go.
    assert pin.function == ("output" if kind == "fail_safe" else "input")


@pytest.mark.parametrize(("active_high", "kind"), COMBOS)
def test_restart_in_the_same_process_keeps_the_lock_still(
    active_high: bool, kind: LockKind
) -> None:
    pins = GatePins(lock_active_high=active_high, lock_kind=kind)
    factory = MockFactory()
    pin = idle_lock_pin(factory, pins)
    SimulatedGate(pins, pin_factory=factory).close()
    again = SimulatedGate(pins, pin_factory=factory)  # no GPIOPinInUse
    assert levels(pin) == [locked_level(pins)]
    again.close()


def test_release_after_close_is_refused() -> None:
    gate = SimulatedGate()
    gate.close()
    gate.set_lock(False)  # a late "lock" during shutdown: already locked
    with pytest.raises(RuntimeError, match="cannot release"):
        gate.set_lock(True)


# -- inputs --------------------------------------------------------------------------

INPUTS_WIRED = GatePins(tamper=24, lock_sensor=25)


def test_inputs_start_as_a_quiet_gate_and_report_changes() -> None:
    gate = SimulatedGate(INPUTS_WIRED)
    seen: list[InputChange] = []
    gate.on_input(seen.append)
    # door shut, button up, no alarm, no tamper; the lock engaged
    quiet = {inp: inp is Input.LOCK_SENSOR for inp in Input}
    assert gate.read_inputs() == quiet
    assert set(gate.inputs) == set(Input)
    for inp in Input:
        gate.drive(inp, not quiet[inp])
        gate.drive(inp, not quiet[inp])  # no change, no event
        assert gate.read_inputs()[inp] is not quiet[inp]
        gate.drive(inp, quiet[inp])
    assert seen == [InputChange(inp, a) for inp in Input for a in (not quiet[inp], quiet[inp])]
    gate.close()


@pytest.mark.parametrize("pull", ["up", "down", "none"])
@pytest.mark.parametrize("active_high", [True, False])
def test_active_level_with_each_pull(pull: Pull, active_high: bool) -> None:
    pins = GatePins(door_active_high=active_high, input_pull=pull)
    gate = SimulatedGate(pins)
    seen: list[InputChange] = []
    gate.on_input(seen.append)
    door = gate.pin_factory.pin(pins.door)
    assert door.state is (not active_high)  # shut
    gate.drive(Input.DOOR, True)
    assert door.state is active_high
    assert gate.read_inputs()[Input.DOOR] is True
    assert seen == [InputChange(Input.DOOR, True)]
    assert door.pull == {"up": "up", "down": "down", "none": "floating"}[pull]
    gate.close()


def test_unwired_input_cannot_be_driven() -> None:
    gate = SimulatedGate(GatePins(fire_alarm=None))
    assert Input.FIRE_ALARM not in gate.read_inputs()
    with pytest.raises(ValueError, match="not wired"):
        gate.drive(Input.FIRE_ALARM, True)
    gate.close()


def test_a_failing_callback_does_not_silence_the_others() -> None:
    gate = SimulatedGate()
    seen: list[InputChange] = []

    def broken(change: InputChange) -> None:
        raise RuntimeError("consumer bug")

    gate.on_input(broken)
    gate.on_input(seen.append)
    gate.drive(Input.EXIT_BUTTON, True)
    assert seen == [InputChange(Input.EXIT_BUTTON, True)]
    gate.close()


def test_no_callbacks_after_close() -> None:
    factory = MockFactory()
    gate = SimulatedGate(pin_factory=factory)
    seen: list[InputChange] = []
    gate.on_input(seen.append)
    gate.close()
    factory.pin(GatePins().door).drive_high()
    assert seen == []


def test_real_gate_debounces_but_the_simulation_does_not() -> None:
    factory = MockFactory()
    GpioGate(GatePins(bounce_time=0.05), pin_factory=factory).close()
    assert factory.pin(27).bounce == 0.05
    simulated = SimulatedGate(GatePins(bounce_time=0.05))
    assert simulated.pins.bounce_time is None
    assert simulated.pin_factory.pin(27).bounce is None
    simulated.close()


# -- feedback ------------------------------------------------------------------------


def signature(feedback: Feedback) -> tuple[frozenset[str], frozenset[str], int | None, float]:
    p = PATTERNS[feedback]
    return (p.steady, p.blinking, p.beeps, p.beep_on)


def test_every_feedback_looks_or_sounds_different() -> None:
    assert len({signature(f) for f in Feedback}) == len(Feedback)


@pytest.mark.parametrize(
    ("feedback", "lit", "beeps"),
    [
        (Feedback.GRANTED, "green", 1),
        (Feedback.DENIED, "red", 2),
        (Feedback.WARNING, "amber", 3),
    ],
)
def test_steady_patterns(feedback: Feedback, lit: str, beeps: int) -> None:
    gate = SimulatedGate(tempo=FAST)
    factory, pins = gate.pin_factory, gate.pins
    buzzer = factory.pin(pins.buzzer)
    gate.signal(feedback)
    expected = [False] + [True, False] * beeps
    wait_until(lambda: len(buzzer.states) >= len(expected))
    assert levels(buzzer) == expected
    for color, number in pins.leds().items():
        assert levels(factory.pin(number)) == ([False, True] if color == lit else [False])
    gate.close()


def test_needs_approval_blinks_amber_with_one_long_beep() -> None:
    gate = SimulatedGate(tempo=FAST)
    factory, pins = gate.pin_factory, gate.pins
    amber, buzzer = factory.pin(pins.led_amber), factory.pin(pins.buzzer)
    gate.signal(Feedback.NEEDS_APPROVAL)
    wait_until(lambda: len(amber.states) >= 6 and len(buzzer.states) >= 3)
    gate.signal(Feedback.IDLE)
    assert levels(buzzer) == [False, True, False]
    assert levels(amber)[:6] == [False, True, False, True, False, True]
    assert amber.state is False
    assert levels(factory.pin(pins.led_green)) == [False]
    gate.close()


def test_alarm_blinks_red_and_sounds_until_told_otherwise() -> None:
    gate = SimulatedGate(tempo=FAST)
    factory, pins = gate.pin_factory, gate.pins
    red, buzzer = factory.pin(pins.led_red), factory.pin(pins.buzzer)
    gate.signal(Feedback.ALARM)
    wait_until(lambda: len(red.states) >= 5 and len(buzzer.states) >= 5)
    gate.signal(Feedback.IDLE)
    settled = (len(red.states), len(buzzer.states))
    assert (red.state, buzzer.state) == (False, False)
    gate.signal(Feedback.IDLE)
    assert (len(red.states), len(buzzer.states)) == settled
    gate.close()


def test_feedback_without_buzzer_or_leds() -> None:
    pins = GatePins(buzzer=None, led_green=None, led_red=None, led_amber=None)
    gate = SimulatedGate(pins, tempo=FAST)
    assert gate.leds == ()
    for feedback in Feedback:
        gate.signal(feedback)
    gate.close()
    gate.signal(Feedback.ALARM)  # after close: ignored, not an error


# -- the pin map --------------------------------------------------------------------


def test_default_pins_are_valid_and_avoid_uart_and_i2c() -> None:
    used = set(GatePins().pin_numbers().values())
    assert used.isdisjoint({2, 3, 14, 15})


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"door": 17}, "door: pin 17 is already used by lock"),
        ({"buzzer": 40}, "buzzer: BCM pin must be 0-27, not 40"),
        ({"lock_kind": "maglock"}, "lock_kind: must be fail_secure or fail_safe"),
        ({"input_pull": "sideways"}, "input_pull: must be up, down or none"),
        ({"bounce_time": -1.0}, "bounce_time: must be between 0 and 1 second"),
    ],
)
def test_bad_pin_maps_are_refused(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        GatePins(**changes)  # type: ignore[arg-type]
