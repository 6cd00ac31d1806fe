"""The gate's pins: lock relay, buzzer and LEDs out; door, exit button, alarms in.

The lock relay is the one output that must never glitch. It is created already in
its locked state (gpiozero's ``initial_value``, which ends up in
``Pin.output_with_state``), so it does not pass through "released" for even a
microsecond at start, whatever its active level and lock kind.

Lock kinds say what the lock does when the relay is *off*:

- ``fail_secure``: the lock holds with the relay off (an electric strike or bolt
  that needs power to open). Locked = relay off.
- ``fail_safe``: a maglock powered through the relay's normally-open contact; it
  holds only while the relay is on. Locked = relay on.

Closing a gpiozero output hands the pin back as an input, which floats it and
de-energises the relay. For ``fail_secure`` that is the locked state, so ``close()``
locks and then closes the relay. For ``fail_safe`` it would open the door, so
``close()`` locks and leaves the pin driven (only gpiozero's reservation is given
back, so a restarted gate in the same process takes the pin over without a glitch).
When the process itself ends, gpiozero releases every pin and a fail-safe maglock
drops, as it does on a power cut; that is what fail-safe wiring means.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from gpiozero import DigitalInputDevice, DigitalOutputDevice
from gpiozero.pins.mock import MockFactory

from drivers.base import Feedback, Input, InputChange

log = logging.getLogger(__name__)

LockKind = Literal["fail_secure", "fail_safe"]
Pull = Literal["up", "down", "none"]
LEDS = ("green", "red", "amber")
BCM_PINS = range(28)
_PIN_FIELDS = (
    "lock",
    "door",
    "exit_button",
    "fire_alarm",
    "tamper",
    "lock_sensor",
    "buzzer",
    "led_green",
    "led_red",
    "led_amber",
)


@dataclass(frozen=True, slots=True)
class GatePins:
    """Which BCM pin does what, and at which level. Defaults suit a common relay HAT.

    Inputs are contacts to ground with the Pi's pull-ups (``input_pull="up"``); each
    ``*_active_high`` says whether a high pin means the input is active (the door is
    open, the button pressed, ...). A fire panel's normally-closed contact reads
    high on alarm *and* on a cut wire, which is what a gate should treat as alarm.
    """

    lock: int = 17
    lock_active_high: bool = True
    lock_kind: LockKind = "fail_secure"
    door: int = 27
    door_active_high: bool = True  # reed switch closed to ground while the door is shut
    exit_button: int = 22
    exit_button_active_high: bool = False  # push button to ground
    fire_alarm: int | None = 23
    fire_alarm_active_high: bool = True  # fire panel's normally-closed contact
    tamper: int | None = None
    tamper_active_high: bool = True
    lock_sensor: int | None = None
    lock_sensor_active_high: bool = False
    buzzer: int | None = 18
    buzzer_active_high: bool = True
    led_green: int | None = 5
    led_red: int | None = 6
    led_amber: int | None = 13
    leds_active_high: bool = True
    input_pull: Pull = "up"
    bounce_time: float | None = 0.05

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        """What is wrong with this pin map, one ``field: reason`` per problem."""
        found: list[str] = []
        if self.lock_kind not in ("fail_secure", "fail_safe"):
            found.append(f"lock_kind: must be fail_secure or fail_safe, not {self.lock_kind!r}")
        if self.input_pull not in ("up", "down", "none"):
            found.append(f"input_pull: must be up, down or none, not {self.input_pull!r}")
        if self.bounce_time is not None and not 0 <= self.bounce_time <= 1:
            found.append("bounce_time: must be between 0 and 1 second")
        used: dict[int, str] = {}
        for name, pin in self.pin_numbers().items():
            if pin not in BCM_PINS:
                found.append(f"{name}: BCM pin must be 0-27, not {pin}")
            elif pin in used:
                found.append(f"{name}: pin {pin} is already used by {used[pin]}")
            used.setdefault(pin, name)
        return found

    def pin_numbers(self) -> dict[str, int]:
        """Every pin in use, by field name."""
        pins = {name: getattr(self, name) for name in _PIN_FIELDS}
        return {name: pin for name, pin in pins.items() if pin is not None}

    def inputs(self) -> dict[Input, tuple[int, bool]]:
        """The wired inputs: pin and whether high means active."""
        wired = {
            Input.DOOR: (self.door, self.door_active_high),
            Input.EXIT_BUTTON: (self.exit_button, self.exit_button_active_high),
            Input.FIRE_ALARM: (self.fire_alarm, self.fire_alarm_active_high),
            Input.TAMPER: (self.tamper, self.tamper_active_high),
            Input.LOCK_SENSOR: (self.lock_sensor, self.lock_sensor_active_high),
        }
        return {inp: (pin, high) for inp, (pin, high) in wired.items() if pin is not None}

    def leds(self) -> dict[str, int]:
        wired = {"green": self.led_green, "red": self.led_red, "amber": self.led_amber}
        return {color: pin for color, pin in wired.items() if pin is not None}

    def relay_on(self, released: bool) -> bool:
        """Whether the relay is energised for a released (or locked) lock."""
        return released if self.lock_kind == "fail_secure" else not released


DEFAULT_PINS = GatePins()


@dataclass(frozen=True, slots=True)
class Pattern:
    """How the LEDs and buzzer show one ``Feedback``; durations in seconds."""

    steady: frozenset[str] = frozenset()
    blinking: frozenset[str] = frozenset()
    blink: float = 0.5  # on and off time of blinking LEDs
    beeps: int | None = 0  # None: until the next signal
    beep_on: float = 0.1
    beep_off: float = 0.1


# Each pattern differs in colour, blinking or beep count, so a parent or a guard can
# tell them apart without reading a screen.
PATTERNS: dict[Feedback, Pattern] = {
    Feedback.GRANTED: Pattern(steady=frozenset({"green"}), beeps=1),
    Feedback.DENIED: Pattern(steady=frozenset({"red"}), beeps=2),
    Feedback.NEEDS_APPROVAL: Pattern(blinking=frozenset({"amber"}), beeps=1, beep_on=1.0),
    Feedback.WARNING: Pattern(steady=frozenset({"amber"}), beeps=3, beep_on=0.2, beep_off=0.2),
    Feedback.ALARM: Pattern(
        blinking=frozenset({"red"}), blink=0.25, beeps=None, beep_on=0.5, beep_off=0.5
    ),
    Feedback.IDLE: Pattern(),
}


class _LockRelay(DigitalOutputDevice):
    """The relay output; with ``hold`` its ``close()`` leaves the pin driven (see above)."""

    def __init__(self, pin: int, *, active_high: bool, on: bool, hold: bool, pin_factory: Any):
        self._hold = hold
        super().__init__(pin, active_high=active_high, initial_value=on, pin_factory=pin_factory)

    def close(self) -> None:
        pin = getattr(self, "_pin", None)
        if not self._hold or pin is None:
            super().close()
            return
        self._stop_blink()
        self.pin_factory.release_pins(self, pin.info.name)
        self._pin = None


class GpioGate:
    """``base.GateIO`` on gpiozero: the lock relay, feedback outputs and input contacts.

    Input callbacks run on gpiozero's thread; the gate hands them to its own loop.
    ``tempo`` scales every feedback duration (tests play patterns fast).
    """

    def __init__(self, pins: GatePins, *, pin_factory: Any = None, tempo: float = 1.0) -> None:
        self.pins = pins
        self.tempo = tempo
        # Public so readers on the same header (Wiegand) share the factory.
        self.pin_factory: Any = pin_factory
        self._callbacks: list[Callable[[InputChange], None]] = []
        self._lock = threading.Lock()
        self._closed = False
        self._released = False
        self._outputs: dict[str, Any] = {}
        self._inputs: dict[Input, tuple[Any, bool]] = {}
        # The relay first: until it exists, the lock is whatever the hardware holds.
        self._relay = _LockRelay(
            pins.lock,
            active_high=pins.lock_active_high,
            on=pins.relay_on(released=False),
            hold=pins.lock_kind == "fail_safe",
            pin_factory=pin_factory,
        )
        try:
            self._make_outputs()
            self._make_inputs()
        except Exception:
            self.close()
            raise

    @property
    def lock_released(self) -> bool:
        return self._released

    @property
    def leds(self) -> tuple[str, ...]:
        return tuple(color for color in LEDS if color in self._outputs)

    @property
    def inputs(self) -> tuple[Input, ...]:
        return tuple(self._inputs)

    def set_lock(self, released: bool) -> None:
        if self._closed:
            if not released:
                return  # close() left it locked; a late "lock" in a shutdown is fine
            raise RuntimeError("cannot release the lock: the gate's pins are closed")
        self._relay.value = self.pins.relay_on(released)
        self._released = released
        log.info("lock %s", "released" if released else "locked")

    def signal(self, feedback: Feedback) -> None:
        if self._closed:
            return
        pattern = PATTERNS[feedback]
        for color in self.leds:
            led = self._outputs[color]
            if color in pattern.steady:
                led.on()
            elif color in pattern.blinking:
                led.blink(pattern.blink * self.tempo, pattern.blink * self.tempo)
            else:
                led.off()
        buzzer = self._outputs.get("buzzer")
        if buzzer is not None:
            buzzer.off()
            if pattern.beeps != 0:
                on, off = pattern.beep_on * self.tempo, pattern.beep_off * self.tempo
                buzzer.blink(on, off, n=pattern.beeps)

    def beep(self, seconds: float) -> None:
        """One beep (the installer's check)."""
        buzzer = self._outputs.get("buzzer")
        if buzzer is not None and not self._closed:
            buzzer.blink(seconds, 0.0, n=1)

    def set_led(self, color: str, on: bool) -> None:
        """Light or clear one LED (the installer's check)."""
        if not self._closed and color in self.leds:
            self._outputs[color].value = on

    def on_input(self, callback: Callable[[InputChange], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def read_inputs(self) -> dict[Input, bool]:
        return {inp: self._active(inp) for inp in self._inputs}

    def close(self) -> None:
        """Lock, switch the feedback off and release the pins; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._callbacks.clear()
        self._released = False
        try:
            self._relay.value = self.pins.relay_on(released=False)
        except Exception:  # still release the other pins; the relay is closed last
            log.exception("locking on close")
        devices = [dev for dev, _ in self._inputs.values()] + list(self._outputs.values())
        for device in [*devices, self._relay]:
            try:
                device.close()
            except Exception:
                log.exception("closing %r", device)

    def _make_outputs(self) -> None:
        outputs = dict(self.pins.leds())
        if self.pins.buzzer is not None:
            outputs["buzzer"] = self.pins.buzzer
        for name, pin in outputs.items():
            high = self.pins.buzzer_active_high if name == "buzzer" else self.pins.leds_active_high
            self._outputs[name] = DigitalOutputDevice(
                pin, active_high=high, initial_value=False, pin_factory=self.pin_factory
            )

    def _make_inputs(self) -> None:
        pull = self.pins.input_pull
        for inp, (pin, active_high) in self.pins.inputs().items():
            if pull == "none":
                device = DigitalInputDevice(
                    pin,
                    pull_up=None,
                    active_state=active_high,
                    bounce_time=self.pins.bounce_time,
                    pin_factory=self.pin_factory,
                )
                inverted = False
            else:
                # With a pull resistor gpiozero fixes the active level (low for a
                # pull-up); the configured level may be the other one.
                device = DigitalInputDevice(
                    pin,
                    pull_up=pull == "up",
                    bounce_time=self.pins.bounce_time,
                    pin_factory=self.pin_factory,
                )
                inverted = active_high == (pull == "up")
            device.when_activated = self._handler(inp, not inverted)
            device.when_deactivated = self._handler(inp, inverted)
            self._inputs[inp] = (device, inverted)

    def _active(self, inp: Input) -> bool:
        device, inverted = self._inputs[inp]
        return bool(device.is_active) != inverted

    def _handler(self, inp: Input, active: bool) -> Callable[[], None]:
        def changed() -> None:
            with self._lock:
                callbacks = list(self._callbacks)
            change = InputChange(inp, active)
            for callback in callbacks:
                try:
                    callback(change)
                except Exception:  # one consumer's bug must not silence the others
                    log.exception("input callback for %s", inp)

        return changed


class SimulatedGate(GpioGate):
    """A ``GpioGate`` on gpiozero's mock pins, with the hands of a person at the gate.

    ``drive()`` moves an input the way the wired contact would (respecting its
    active level). Debouncing is off: gpiozero 2.0.1's ``MockPin`` stores
    ``bounce`` but does not implement it, and a simulation must not depend on it
    anyway. Inputs start as in a quiet gate: door shut, button up, no alarm, no tamper,
    and the lock engaged (a wired lock-state sensor is active).
    """

    def __init__(
        self, pins: GatePins = DEFAULT_PINS, *, pin_factory: Any = None, tempo: float = 1.0
    ) -> None:
        factory = pin_factory if pin_factory is not None else MockFactory()
        super().__init__(replace(pins, bounce_time=None), pin_factory=factory, tempo=tempo)
        for inp in self.inputs:
            self.drive(inp, inp is Input.LOCK_SENSOR)

    def drive(self, input: Input, active: bool) -> None:
        wired = self.pins.inputs()
        if input not in wired:
            raise ValueError(f"input {input} is not wired in this gate's pins")
        number, active_high = wired[input]
        pin = self.pin_factory.pin(number)
        if active == active_high:
            pin.drive_high()
        else:
            pin.drive_low()
