"""`kindergate simulate`: replay a scenario in virtual time on simulated hardware.

The same scenario always prints the same events: time is virtual, ids derive from the
site, gate and sequence, and the simulated pins answer synchronously.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from drivers.base import Input, InputChange, Read
from drivers.raw import decode_raw
from edge.clock import VirtualClock
from edge.config import Config, ConfigError, GateConfig, config_from_dict, merge
from edge.events import Draft, Event
from edge.gate import Gate
from edge.guard import GuardAction, GuardError
from edge.roster import Roster, RosterError
from edge.roster_load import load_roster
from edge.store import Store

ACTIONS = ("scan", "raw", "door", "button", "fire_alarm", "guard")


class ScenarioError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RawInput(_Model):
    format: Literal["wiegand26", "wiegand34", "rdm6300", "line"]
    data: str


class Step(_Model):
    at: str
    reader: str | None = None
    scan: str | None = None
    raw: RawInput | None = None
    door: Literal["open", "closed"] | None = None
    button: Literal["press"] | None = None
    fire_alarm: Literal["on", "off"] | None = None
    guard: dict[str, Any] | None = None

    @field_validator("at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        try:
            parsed = time.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not a time HH:MM[:SS]: {value!r}") from None
        if parsed.tzinfo is not None:
            raise ValueError("local time without an offset")
        return value

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        given = [a for a in ACTIONS if getattr(self, a) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a step needs exactly one of {', '.join(ACTIONS)} (got {', '.join(given) or 'none'})"
            )
        if self.guard is not None:
            try:
                GuardAction.from_dict(self.guard)
            except GuardError as err:
                raise ValueError(f"guard: {err}") from None
        return self

    @property
    def local_time(self) -> time:
        return time.fromisoformat(self.at)


class Scenario(_Model):
    roster: str
    date: date
    timezone: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    step: list[Step] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _in_order(self) -> Scenario:
        for i in range(1, len(self.step)):
            if self.step[i].local_time < self.step[i - 1].local_time:
                raise ValueError(f"step {i}: at {self.step[i].at} is before the step before it")
        return self


def _flat_gate_keys(overrides: dict[str, Any]) -> dict[str, Any]:
    """`[config] channel = "x"` is shorthand for `[config.gate] channel = "x"`."""
    gate_keys = set(GateConfig.model_fields)
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if key in gate_keys and not isinstance(value, dict):
            out.setdefault("gate", {})[key] = value
        else:
            out[key] = value
    return out


def load_scenario(path: Path) -> tuple[Scenario, Config, Roster]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError([f"{path}: no such file"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ScenarioError([f"{path}: {err}"]) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(
            [
                f"{path}: {'.'.join(map(str, e['loc'])) or '(top level)'}: {str(e['msg']).removeprefix('Value error, ')}"
                for e in err.errors()
            ]
        ) from None
    roster_dir = (path.parent / scenario.roster).resolve()
    zone = scenario.timezone or scenario.config.get("site", {}).get("timezone") or "UTC"
    base: dict[str, Any] = {
        "site": {"id": "sim", "timezone": zone},
        "gate": {"id": "main", "channel": "main", "hardware": "simulated"},
        "store": {"path": ":memory:"},
        "roster": {"path": str(roster_dir)},
    }
    merged = merge(base, _flat_gate_keys(scenario.config))
    if scenario.timezone:
        merged["site"]["timezone"] = scenario.timezone
    try:
        cfg = config_from_dict(merged, path)
    except ConfigError as err:
        raise ScenarioError(
            [p.replace(f"{path}: ", f"{path}: config.", 1) for p in err.problems]
        ) from None
    try:
        roster = load_roster(roster_dir)
    except RosterError as err:
        raise ScenarioError([f"{path}: roster: {p}" for p in err.problems]) from None
    return scenario, cfg, roster


class Simulation:
    """A gate on simulated pins, a virtual clock and an in-memory store."""

    def __init__(
        self, cfg: Config, roster: Roster, start: datetime, emit: Callable[[Event], None]
    ) -> None:
        from drivers.gpio import SimulatedGate

        self.cfg = cfg
        self.clock = VirtualClock(start)
        self.io = SimulatedGate(cfg.gpio.pins())
        self.store = Store(":memory:", site=cfg.site.id, gate=cfg.gate.id)
        self.emit = emit
        self._changes: list[InputChange] = []
        self.io.on_input(self._changes.append)
        self.gate = Gate(cfg, roster, self.io, self.clock)
        self.default_reader = cfg.reader[0].name if cfg.reader else "entrance"

    def record(self, drafts: list[Draft]) -> None:
        for event in self.store.record(drafts):
            self.emit(event)

    def advance_to(self, when: datetime) -> None:
        """Move time forward, firing every timer due before ``when`` at its own time.

        A timer due at the very instant of the next step fires after that step: a door
        closed at exactly ``held_open_seconds`` was not open *longer* than that.
        """
        idle_ticks = 0
        while True:
            wait = self.gate.next_wakeup()
            if wait is None or self.clock.now() + timedelta(seconds=wait) >= when:
                break
            idle_ticks = idle_ticks + 1 if wait == 0 else 0
            if idle_ticks > 1000:
                raise RuntimeError("a timer stays due after it ran; refusing to spin")
            self.clock.advance(wait)
            self.record(self.gate.tick())
        self.clock.advance_to(when)

    def step(self, step: Step) -> None:
        reader = step.reader or self.default_reader
        if step.scan is not None:
            self.record(self.gate.scan(Read(reader, step.scan.strip())))
        elif step.raw is not None:
            self.record(self.gate.scan(decode_raw(reader, step.raw.format, step.raw.data)))
        elif step.door is not None:
            self._drive(Input.DOOR, step.door == "open")
        elif step.button is not None:
            self._drive(Input.EXIT_BUTTON, True)
            self._drive(Input.EXIT_BUTTON, False)
        elif step.fire_alarm is not None:
            self._drive(Input.FIRE_ALARM, step.fire_alarm == "on")
        elif step.guard is not None:
            self.record(self.gate.guard(GuardAction.from_dict(step.guard)))

    def _drive(self, which: Input, active: bool) -> None:
        self.io.drive(which, active)
        changes, self._changes[:] = list(self._changes), []
        for change in changes:
            self.record(self.gate.input_changed(change))

    def close(self) -> None:
        self.io.close()
        self.store.close()


def run_scenario(
    path: Path, emit: Callable[[Event], None], *, until_end_of_day: bool = True
) -> Simulation:
    scenario, cfg, roster = load_scenario(path)
    tz = cfg.site.tz
    start = datetime.combine(scenario.date, time(0, 0), tz)
    sim = Simulation(cfg, roster, start, emit)
    for step in scenario.step:
        sim.advance_to(datetime.combine(scenario.date, step.local_time, tz))
        sim.step(step)
    if until_end_of_day:
        sim.advance_to(datetime.combine(scenario.date, time(23, 59, 59), tz))
    return sim
