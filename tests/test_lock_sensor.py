"""The lock-state sensor: a lock that does not engage after relocking is a door event,
in the gate's state and on the console. Virtual time on mock pins, then the console."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from gpiozero.pins.mock import MockFactory

from drivers.base import Input, InputChange, Read
from drivers.gpio import SimulatedGate
from edge.clock import VirtualClock
from edge.config import config_from_dict, load_config
from edge.console.app import create_app
from edge.events import Draft, EventType, Reason
from edge.gate import Gate
from tests.console_support import (
    GUARD,
    SCHOOL_DAY,
    ConsoleGate,
    SettableClock,
    events_of,
    make_config,
    open_daemon,
    roster_of,
    sign_in,
)
from tests.rosters import small_roster, write_small_roster

TZ = ZoneInfo("Asia/Shanghai")
SENSOR = 25
STAFF = "card:0000000201"


class Rig:
    """A gate on mock pins with a lock-state sensor (active low, as wired by default)."""

    def __init__(self, tmp_path: Path) -> None:
        write_small_roster(tmp_path / "roster")
        self.cfg = config_from_dict(
            {
                "site": {"id": "s", "timezone": "Asia/Shanghai"},
                "gate": {"id": "main", "lock_engage_seconds": 2},
                "store": {"path": ":memory:"},
                "roster": {"path": str(tmp_path / "roster")},
                "gpio": {"lock_sensor": SENSOR},
            },
            tmp_path / "gate.toml",
        )
        self.factory = MockFactory()
        self.io = SimulatedGate(self.cfg.gpio.pins(), pin_factory=self.factory)
        self.clock = VirtualClock(datetime(2026, 11, 24, 16, 5, tzinfo=TZ))
        self.changes: list[InputChange] = []
        self.io.on_input(self.changes.append)
        self.gate = Gate(self.cfg, small_roster(tmp_path / "r2"), self.io, self.clock)
        # what the daemon does at start: the sensor's state now
        assert self.feed_inputs_now() == []

    def feed_inputs_now(self) -> list[Draft]:
        engaged = self.io.read_inputs()[Input.LOCK_SENSOR]
        return self.gate.input_changed(InputChange(Input.LOCK_SENSOR, engaged))

    def pending_inputs(self) -> list[Draft]:
        out: list[Draft] = []
        for change in self.changes:
            out += self.gate.input_changed(change)
        self.changes.clear()
        return out

    def bolt(self, engaged: bool) -> list[Draft]:
        pin = self.factory.pin(SENSOR)
        pin.drive_low() if engaged else pin.drive_high()  # active low: low = engaged
        return self.pending_inputs()

    def door(self, is_open: bool) -> list[Draft]:
        self.io.drive(Input.DOOR, is_open)
        return self.pending_inputs()

    def advance(self, seconds: float) -> list[Draft]:
        out: list[Draft] = []
        target = self.clock.monotonic() + seconds
        while (wait := self.gate.next_wakeup()) is not None and (
            self.clock.monotonic() + wait <= target
        ):
            self.clock.advance(wait)
            out += self.gate.tick()
        self.clock.advance(target - self.clock.monotonic())
        return out + self.gate.tick()


def door_reasons(drafts: list[Draft]) -> list[str]:
    return [str(d.reason) for d in drafts if d.type is EventType.DOOR]


def test_the_simulated_lock_starts_engaged(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    status = rig.gate.status()
    assert status["lock_engaged"] is True and status["lock_fault"] is False


def test_a_bolt_that_misses_its_strike_is_lock_not_engaged(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.gate.scan(Read("entrance", STAFF))  # granted: released
    assert rig.bolt(False) == []  # the bolt withdraws, as it should
    assert door_reasons(rig.door(True)) == ["opened"]
    assert door_reasons(rig.door(False)) == ["closed"]  # relocked as the door closed
    assert rig.gate.status()["lock"] == "locked"
    assert door_reasons(rig.advance(1.9)) == []  # the bolt still has time
    out = rig.advance(0.1)
    assert door_reasons(out) == ["lock_not_engaged"]
    assert rig.gate.status()["lock_fault"] is True
    assert door_reasons(rig.advance(600)) == []  # once
    assert rig.bolt(True) == []  # someone pushed the door shut: engaged
    assert rig.gate.status()["lock_fault"] is False and rig.gate.status()["lock_engaged"]


def test_a_bolt_that_engages_in_time_is_no_event(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.gate.scan(Read("entrance", STAFF))
    rig.bolt(False)
    out = rig.advance(5.0)  # nobody came through: relock after unlock_seconds
    assert rig.gate.status()["lock"] == "locked" and door_reasons(out) == []
    rig.advance(1.0)
    rig.bolt(True)
    assert door_reasons(rig.advance(600)) == []
    assert rig.gate.status()["lock_fault"] is False


def test_a_lock_not_engaged_at_start_is_reported(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.factory.pin(SENSOR).drive_high()  # not engaged before anyone looked
    rig.changes.clear()
    rig.gate = Gate(rig.cfg, rig.gate.roster, rig.io, rig.clock)
    assert rig.feed_inputs_now() == []
    assert door_reasons(rig.advance(2.0)) == ["lock_not_engaged"]


# --- on the console -----------------------------------------------------------------------


@pytest.fixture
def console(tmp_path: Path) -> Iterator[ConsoleGate]:
    make_config(tmp_path)  # writes gate.toml and the roster
    cfg = load_config(tmp_path / "gate.toml", overrides={"gpio": {"lock_sensor": SENSOR}})
    clock = SettableClock(SCHOOL_DAY)
    daemon = open_daemon(cfg, clock)
    app = create_app(daemon)
    con = app.state.console
    con.users.add(GUARD[0], "guard", GUARD[1])
    gate = ConsoleGate(TestClient(app, follow_redirects=False), daemon, con, clock)
    yield gate
    gate.close()


BANNER = re.compile(r'<div id="lock-fault" class="banner lockfault" role="alert"( hidden)?>')


def test_the_console_shows_the_lock_fault_until_the_lock_engages(console: ConsoleGate) -> None:
    daemon = console.daemon
    sign_in(console.client)
    assert BANNER.search(console.client.get("/").text).group(1) == " hidden"  # type: ignore[union-attr]
    staff = next(iter(roster_of(daemon.cfg).staff.values()))
    daemon.on_read(Read("entrance", staff.card))
    daemon.on_input(InputChange(Input.LOCK_SENSOR, False))
    daemon.on_input(InputChange(Input.DOOR, True))
    daemon.on_input(InputChange(Input.DOOR, False))
    console.clock.set(console.clock.now() + timedelta(seconds=3))
    daemon.record(daemon.gate.tick())
    (event,) = events_of(daemon, EventType.DOOR, Reason.LOCK_NOT_ENGAGED)
    assert daemon.status()["lock_fault"] is True
    page = console.client.get("/").text
    assert BANNER.search(page).group(1) is None  # type: ignore[union-attr]
    assert "Lock not engaged: the gate relocked" in page
    row = re.search(rf'<li class="event tone-(\w+)" data-id="{event.id}"', page)
    assert row is not None and row.group(1) == "alarm"
    daemon.on_input(InputChange(Input.LOCK_SENSOR, True))
    assert BANNER.search(console.client.get("/").text).group(1) == " hidden"  # type: ignore[union-attr]
    assert event.reason is Reason.LOCK_NOT_ENGAGED
