"""The gate on simulated pins: decisions drive the lock, events come out, time is virtual."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.base import Input, Read
from drivers.gpio import SimulatedGate
from edge.clock import VirtualClock
from edge.config import Config, config_from_dict
from edge.events import Decision, Draft, Event, EventType, Reason
from edge.gate import Gate
from edge.guard import GuardAction
from edge.rules import Mode
from tests.rosters import small_roster, write_small_roster

TZ = ZoneInfo("Asia/Shanghai")
LOCK = 17


def make_cfg(tmp_path: Path, **gate: object) -> Config:
    write_small_roster(tmp_path / "roster")
    data = {
        "site": {"id": "s", "timezone": "Asia/Shanghai"},
        "gate": {"id": "main", **gate},
        "store": {"path": ":memory:"},
        "roster": {"path": str(tmp_path / "roster")},
    }
    return config_from_dict(data, tmp_path / "x.toml")


class Rig:
    def __init__(self, tmp_path: Path, start: str = "2026-11-24T16:05:00", **gate: object) -> None:
        self.cfg = make_cfg(tmp_path, **gate)
        self.factory = MockFactory()
        self.io = SimulatedGate(self.cfg.gpio.pins(), pin_factory=self.factory)
        self.clock = VirtualClock(datetime.fromisoformat(start).replace(tzinfo=TZ))
        self.changes: list = []
        self.io.on_input(self.changes.append)
        self.gate = Gate(self.cfg, small_roster(tmp_path / "r2"), self.io, self.clock)

    def lock_levels(self) -> list[bool]:
        return [s.state for s in self.factory.pin(LOCK).states]

    def scan(self, card: str, reader: str = "entrance") -> list[Draft]:
        return self.gate.scan(Read(reader, f"card:{card}"))

    def drive(self, which: Input, active: bool) -> list[Draft]:
        self.io.drive(which, active)
        out: list[Draft] = []
        for change in self.changes:
            out += self.gate.input_changed(change)
        self.changes.clear()
        return out

    def advance(self, seconds: float) -> list[Draft]:
        out: list[Draft] = []
        target = self.clock.monotonic() + seconds
        while (
            wait := self.gate.next_wakeup()
        ) is not None and self.clock.monotonic() + wait <= target:
            self.clock.advance(wait)
            out += self.gate.tick()
        self.clock.advance(target - self.clock.monotonic())
        return out + self.gate.tick()


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def test_lock_is_never_pulsed_at_start(rig: Rig) -> None:
    # from the moment the relay exists: one state, locked (relay off for a fail-secure lock)
    assert rig.lock_levels() == [False]


def test_grant_unlocks_then_relocks_after_unlock_seconds(rig: Rig) -> None:
    (event,) = rig.scan("0000000101")
    assert (event.type, event.decision, event.reason, event.children) == (
        EventType.ACCESS,
        Decision.GRANTED,
        Reason.PICKUP,
        ("C1",),
    )
    assert rig.lock_levels() == [False, True]
    assert rig.advance(4.9) == [] and rig.lock_levels() == [False, True]
    rig.advance(0.1)
    assert rig.lock_levels() == [False, True, False]


def test_relock_when_the_door_closes_and_door_events(rig: Rig) -> None:
    rig.scan("0000000101")
    opened = rig.drive(Input.DOOR, True)
    rig.clock.advance(2)
    closed = rig.drive(Input.DOOR, False)
    assert [e.reason for e in opened + closed] == [Reason.OPENED, Reason.CLOSED]
    assert rig.lock_levels() == [False, True, False]
    assert rig.advance(10) == []


def test_denied_scan_leaves_the_lock_alone(rig: Rig) -> None:
    (event,) = rig.scan("0000999999")
    assert event.reason is Reason.UNKNOWN_CREDENTIAL
    assert rig.lock_levels() == [False]


def test_five_unknowns_lock_the_reader(rig: Rig) -> None:
    reasons = []
    for _ in range(5):
        reasons += [e.reason for e in rig.scan("0000999999")]
        rig.clock.advance(1)
    assert reasons == [Reason.UNKNOWN_CREDENTIAL] * 5 + [
        Reason.RATE_LIMITED
    ]  # the last: system event
    assert rig.scan("0000000201")[0].reason is Reason.RATE_LIMITED  # staff too, at this reader
    assert rig.scan("0000000201", reader="side")[0].reason is Reason.STAFF
    rig.advance(58)  # locked at t=4 (the fifth) for 60 s: still locked at t=63
    assert rig.scan("0000000201")[0].reason is Reason.RATE_LIMITED
    rig.advance(1)
    assert rig.scan("0000000201")[0].reason is Reason.STAFF


def test_blocked_person_raises_an_alarm_naming_the_children(rig: Rig) -> None:
    events = rig.scan("0000000105")
    assert [(e.type, e.reason) for e in events] == [
        (EventType.ACCESS, Reason.BLOCKED_PERSON),
        (EventType.ALARM, Reason.BLOCKED_PERSON),
    ]
    assert events[1].children == ("C2",)
    assert rig.lock_levels() == [False]


def test_early_pickup_then_guard_approval(tmp_path: Path) -> None:
    rig = Rig(tmp_path, start="2026-11-24T14:00:00")
    (event,) = rig.scan("0000000101")
    assert (event.decision, event.reason) == (Decision.NEEDS_APPROVAL, Reason.EARLY_PICKUP)
    assert rig.lock_levels() == [False]
    rig.clock.advance(120)
    (approved,) = rig.gate.guard(GuardAction("approve", by="S1", credential="card:0000000101"))
    assert (approved.decision, approved.reason, approved.approved_by, approved.children) == (
        Decision.GRANTED,
        Reason.PICKUP,
        "S1",
        ("C1",),
    )
    assert rig.lock_levels() == [False, True]
    # approved once: a second approval finds nothing pending
    (again,) = rig.gate.guard(GuardAction("approve", by="S1", credential="card:0000000101"))
    assert (again.type, again.reason) == (EventType.SYSTEM, Reason.NO_PENDING_APPROVAL)


def test_approval_runs_out_after_ten_minutes(tmp_path: Path) -> None:
    rig = Rig(tmp_path, start="2026-11-24T14:00:00")
    rig.scan("0000000101")
    rig.advance(10 * 60 + 1)
    (event,) = rig.gate.guard(GuardAction("approve", by="S1", credential="card:0000000101"))
    assert event.reason is Reason.NO_PENDING_APPROVAL
    assert rig.lock_levels() == [False]


def test_forced_and_held_open(rig: Rig) -> None:
    events = rig.drive(Input.DOOR, True)
    assert [e.reason for e in events] == [Reason.OPENED, Reason.FORCED_OPEN]
    later = rig.advance(30)
    assert [e.reason for e in later] == [Reason.HELD_OPEN]
    assert later[0].ts == datetime(2026, 11, 24, 16, 5, 30, tzinfo=TZ)


def test_exit_button_unlocks(rig: Rig) -> None:
    events = rig.drive(Input.EXIT_BUTTON, True)
    assert [(e.decision, e.reason) for e in events] == [(Decision.GRANTED, Reason.EXIT_REQUEST)]
    assert rig.lock_levels() == [False, True]
    assert [e.reason for e in rig.drive(Input.DOOR, True)] == [Reason.OPENED]  # not forced


def test_fire_alarm_evacuates_and_holds_until_normal(rig: Rig) -> None:
    events = rig.drive(Input.FIRE_ALARM, True)
    assert [(e.type, e.reason) for e in events] == [
        (EventType.ALARM, Reason.FIRE_ALARM),
        (EventType.MODE, Reason.EVACUATE),
    ]
    assert rig.gate.mode is Mode.EVACUATE and rig.lock_levels() == [False, True]
    assert rig.scan("0000999999")[0].reason is Reason.EVACUATION
    assert rig.advance(3600) == [] and rig.lock_levels() == [False, True]
    refused = rig.gate.guard(GuardAction("normal", by="S1"))
    assert [e.reason for e in refused] == [Reason.FIRE_ALARM_ACTIVE]  # the panel still rings
    rig.drive(Input.FIRE_ALARM, False)
    assert rig.gate.mode is Mode.EVACUATE  # cleared alarm: people are still outside
    (normal,) = rig.gate.guard(GuardAction("normal", by="S1"))
    assert (normal.type, normal.mode) == (EventType.MODE, "normal")
    assert rig.lock_levels() == [False, True, False]


def test_lockdown_denies_staff_but_guard_open_opens(rig: Rig) -> None:
    rig.gate.guard(GuardAction("lockdown", by="S1"))
    assert rig.scan("0000000201")[0].reason is Reason.LOCKDOWN
    assert rig.drive(Input.EXIT_BUTTON, True)[0].reason is Reason.LOCKDOWN
    assert rig.lock_levels() == [False]
    (refused,) = rig.gate.guard(GuardAction("open", by="S1"))
    assert refused.type is EventType.SYSTEM  # an open needs a reason
    (opened,) = rig.gate.guard(GuardAction("open", by="S1", reason="ambulance"))
    assert (opened.type, opened.reason, opened.detail["why"]) == (
        EventType.OVERRIDE,
        Reason.GUARD_OVERRIDE,
        "ambulance",
    )
    assert rig.lock_levels() == [False, True]


def test_late_pickup_for_children_dropped_off_and_not_collected(tmp_path: Path) -> None:
    rig = Rig(tmp_path, start="2026-11-24T08:00:00")
    rig.scan("0000000102")  # G2 drops off C1 (K1); C2's class opens 07:45 → both
    events = rig.advance(9 * 3600)  # to 17:00
    late = [e for e in events if e.type is EventType.LATE_PICKUP]
    assert [(e.children, e.ts.strftime("%H:%M")) for e in late] == [(("C1",), "16:45")]
    more = rig.advance(3600)
    assert [
        (e.children, e.ts.strftime("%H:%M")) for e in more if e.type is EventType.LATE_PICKUP
    ] == [(("C2",), "17:05")]


def test_collected_children_are_not_late(tmp_path: Path) -> None:
    rig = Rig(tmp_path, start="2026-11-24T08:00:00")
    rig.scan("0000000101")
    rig.advance(8 * 3600 + 10 * 60)  # 16:10
    assert rig.scan("0000000101")[0].reason is Reason.PICKUP
    rig.advance(3600)
    assert rig.scan("0000000101")[0].reason is Reason.ALREADY_COLLECTED


def test_restore_rebuilds_the_day(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    stored = {"id": "01A", "site": "s", "gate": "main", "ts": "2026-11-24T16:01:00+08:00"}
    rig.gate.restore(
        [
            Event.from_json(
                {**stored, "type": "access", "decision": "granted", "reason": "pickup"}
                | {"children": ["C1"]}
            )
        ]
    )
    assert rig.scan("0000000101")[0].reason is Reason.ALREADY_COLLECTED


def test_lockdown_stays_through_mode_changes(rig: Rig) -> None:
    rig.gate.set_mode(Mode.LOCKDOWN, by="x")
    assert rig.gate.set_mode(Mode.LOCKDOWN, by="x") == []
    rig.gate.set_mode(Mode.EVACUATE, by="x")
    assert rig.lock_levels() == [False, True]


def test_untrusted_clock_sends_time_bound_decisions_to_a_guard(rig: Rig) -> None:
    rig.gate.clock_trusted = lambda: False
    (event,) = rig.scan("0000000101")  # would be a pickup at 16:05
    assert (event.decision, event.reason) == (Decision.NEEDS_APPROVAL, Reason.CLOCK_UNSYNCED)
    assert event.detail["clock"] == "unsynced"
    assert rig.lock_levels() == [False]
    assert rig.scan("0000000201")[0].reason is Reason.STAFF  # staff do not depend on the time
    (approved,) = rig.gate.guard(GuardAction("approve", by="S1", credential="card:0000000101"))
    assert (approved.decision, approved.reason, approved.approved_by) == (
        Decision.GRANTED,
        Reason.PICKUP,
        "S1",
    )
    assert rig.lock_levels() == [False, True]


def test_a_visitor_with_a_blocked_id_number_is_refused_under_any_name(tmp_path: Path) -> None:
    from edge.guard import id_hash, id_salt

    key = bytes(range(32))
    hashed = id_hash("110101199003077777", id_salt("s", key))
    blocked_csv = f"name,card,children,reason,id_hash\nMax,,C2,court order,{hashed}\n"
    write_small_roster(tmp_path / "r3", **{"blocked.csv": blocked_csv})
    from edge.roster_load import load_roster

    cfg = make_cfg(tmp_path)
    io = SimulatedGate(cfg.gpio.pins(), pin_factory=MockFactory())
    clock = VirtualClock(datetime(2026, 11, 24, 10, 0, tzinfo=TZ))
    gate = Gate(cfg, load_roster(tmp_path / "r3"), io, clock, pass_key=key)
    visit = GuardAction(
        "visitor_in",
        by="S1",
        name="Someone Else",
        id_number="1101 0119 9003 077777",
        host="Ms Wang",
        purpose="visit",
    )
    events = gate.guard(visit)
    assert [(e.type, e.reason) for e in events] == [
        (EventType.VISITOR, Reason.BLOCKED_PERSON),
        (EventType.ALARM, Reason.BLOCKED_PERSON),
    ]
    assert events[1].children == ("C2",)
    other = GuardAction(
        "visitor_in",
        by="S1",
        name="Someone Else",
        id_number="110101199003071111",
        host="Ms Wang",
        purpose="visit",
    )
    assert [e.reason for e in gate.guard(other)] == [Reason.VISITOR_IN]


def test_fire_alarm_opens_even_in_lockdown(rig: Rig) -> None:
    rig.gate.guard(GuardAction("lockdown", by="S1"))
    assert rig.lock_levels() == [False]
    events = rig.drive(Input.FIRE_ALARM, True)
    assert [(e.type, e.reason) for e in events] == [
        (EventType.ALARM, Reason.FIRE_ALARM),
        (EventType.MODE, Reason.EVACUATE),
    ]
    assert rig.gate.mode is Mode.EVACUATE and rig.lock_levels() == [False, True]
    assert [e.reason for e in rig.gate.guard(GuardAction("lockdown", by="S1"))] == [
        Reason.FIRE_ALARM_ACTIVE
    ]
    assert rig.lock_levels() == [False, True]  # held open whatever is asked


def test_tamper_is_an_alarm_both_ways(rig: Rig) -> None:
    from drivers.base import InputChange

    opened = rig.gate.input_changed(InputChange(Input.TAMPER, True))
    closed = rig.gate.input_changed(InputChange(Input.TAMPER, False))
    assert [(e.type, e.reason, e.detail) for e in opened + closed] == [
        (EventType.ALARM, Reason.TAMPER, {"active": True}),
        (EventType.ALARM, Reason.TAMPER, {"active": False}),
    ]
    assert rig.lock_levels() == [False]
