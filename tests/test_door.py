"""The door state machine in virtual time (seconds on a monotonic clock)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import Feedback
from edge.door import Action, DoorMachine, DoorNote, DoorTiming, LockCommand, Signal
from edge.events import Reason

TIMING = DoorTiming(unlock_seconds=5, held_open_seconds=30, held_open_warning_seconds=10)


def notes(actions: list[Action]) -> list[Reason]:
    return [a.reason for a in actions if isinstance(a, DoorNote)]


def locks(actions: list[Action]) -> list[bool]:
    return [a.released for a in actions if isinstance(a, LockCommand)]


def test_start_drives_locked_without_pulse() -> None:
    door = DoorMachine(TIMING)
    assert door.start() == [LockCommand(False)]
    assert DoorMachine(TIMING, held=True).start() == [LockCommand(True)]


def test_grant_unlocks_for_unlock_seconds_then_relocks() -> None:
    door = DoorMachine(TIMING)
    assert locks(door.unlock(100.0)) == [True]
    assert door.next_deadline() == 105.0
    assert door.tick(104.999) == []
    assert locks(door.tick(105.0)) == [False]
    assert door.next_deadline() is None


def test_relock_as_soon_as_the_door_closes() -> None:
    door = DoorMachine(TIMING)
    door.unlock(0.0)
    assert notes(door.door_changed(True, 1.0)) == [Reason.OPENED]
    out = door.door_changed(False, 2.5)
    assert notes(out) == [Reason.CLOSED] and locks(out) == [False]
    assert out[0] == DoorNote(Reason.CLOSED, 1.5)
    assert door.tick(5.0) == []  # nothing left to relock


def test_forced_open_after_the_grant_window() -> None:
    door = DoorMachine(TIMING)
    door.unlock(0.0)
    door.tick(5.0)
    assert notes(door.door_changed(True, 5.0)) == [Reason.OPENED]  # at the edge: still authorised
    door.door_changed(False, 6.0)
    out = door.door_changed(True, 10.001)
    assert notes(out) == [Reason.OPENED, Reason.FORCED_OPEN]
    assert Signal(Feedback.ALARM) in out


def test_forced_open_with_no_grant_at_all() -> None:
    assert notes(DoorMachine(TIMING).door_changed(True, 1000.0)) == [
        Reason.OPENED,
        Reason.FORCED_OPEN,
    ]


def test_held_open_warns_then_reports_once() -> None:
    door = DoorMachine(TIMING)
    door.unlock(0.0)
    door.door_changed(True, 1.0)
    assert door.next_deadline() == 5.0  # relock first
    door.tick(5.0)
    assert door.next_deadline() == 21.0  # warning 10 s before 30 s
    assert door.tick(20.9) == []
    assert door.tick(21.0) == [Signal(Feedback.WARNING)]
    assert door.next_deadline() == 31.0
    out = door.tick(31.0)
    assert notes(out) == [Reason.HELD_OPEN]
    assert door.tick(500.0) == []  # once per opening
    assert notes(door.door_changed(False, 600.0)) == [Reason.CLOSED]


def test_evacuation_holds_the_lock_and_silences_door_alarms() -> None:
    door = DoorMachine(TIMING)
    assert locks(door.hold()) == [True]
    assert notes(door.door_changed(True, 1.0)) == [Reason.OPENED]  # not forced
    assert door.tick(1000.0) == []  # not held open, not relocked
    assert locks(door.door_changed(False, 1001.0)) == []  # closing does not relock
    assert door.lock_released
    assert locks(door.release_hold(1002.0)) == [False]


def test_release_hold_with_door_open_starts_the_held_watch_then() -> None:
    door = DoorMachine(TIMING)
    door.hold()
    door.door_changed(True, 0.0)
    door.release_hold(100.0)
    assert door.next_deadline() == 120.0
    assert notes(door.tick(130.0)) == [Reason.HELD_OPEN]


def test_lockdown_cancels_a_pending_unlock() -> None:
    door = DoorMachine(TIMING)
    door.unlock(0.0)
    assert locks(door.secure(0.5)) == [False]
    assert notes(door.door_changed(True, 1.0)) == [Reason.OPENED, Reason.FORCED_OPEN]


def test_a_second_grant_extends_the_unlock() -> None:
    door = DoorMachine(TIMING)
    door.unlock(0.0)
    assert locks(door.unlock(3.0)) == []  # already released: no second pulse
    assert door.tick(5.0) == []
    assert locks(door.tick(8.0)) == [False]


def apply(door: DoorMachine, what: str, t: float) -> list[Action]:
    if what == "unlock":
        return door.unlock(t)
    if what in ("open", "close"):
        return door.door_changed(what == "open", t)
    if what == "tick":
        return door.tick(t)
    if what == "release":
        return door.release_hold(t)
    return door.hold() if what == "hold" else door.secure(t)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["unlock", "open", "close", "tick", "hold", "release", "secure"]),
            st.floats(0, 50),
        ),
        max_size=40,
    )
)
def test_invariants_under_any_sequence(steps: list[tuple[str, float]]) -> None:
    """Whatever happens: the lock commands alternate, and a held door stays released."""
    door = DoorMachine(TIMING)
    t = 0.0
    released = False
    for what, dt in steps:
        t += dt
        out = apply(door, what, t)
        for cmd in locks(out):
            assert cmd != released, "a lock command must change the lock"
            released = cmd
        assert door.lock_released == released
        if door.held:
            assert door.lock_released
        deadline = door.next_deadline()
        if what == "tick":  # a tick runs everything due: what is left lies ahead
            assert deadline is None or deadline > t


# --- the lock-state sensor ---------------------------------------------------------------


def sensed_door() -> DoorMachine:
    """A locked door whose sensor says engaged, as at rest."""
    door = DoorMachine(TIMING)
    door.start()
    assert door.lock_sensed(True, 0.0) == []
    return door


def test_a_lock_that_does_not_engage_after_the_door_closes_is_reported_once() -> None:
    door = sensed_door()
    door.unlock(10.0)
    door.lock_sensed(False, 10.1)  # the bolt withdraws: released
    door.door_changed(True, 11.0)
    out = door.door_changed(False, 12.0)  # relock as the door closes
    assert locks(out) == [False]
    assert door.next_deadline() == 14.0  # lock_engage_seconds = 2
    assert door.tick(13.9) == []
    out = door.tick(14.0)
    assert out == [DoorNote(Reason.LOCK_NOT_ENGAGED), Signal(Feedback.ALARM)]
    assert door.next_deadline() is None
    assert door.tick(100.0) == []  # once
    # a later grant and relock with the bolt still out: not reported again ...
    door.unlock(200.0)
    assert notes(door.tick(205.0) + door.tick(300.0)) == []
    # ... until the sensor has said engaged in between
    door.lock_sensed(True, 301.0)
    door.lock_sensed(False, 302.0)  # bolt pushed back while locked: tampered, or no power
    assert door.next_deadline() == 304.0
    assert notes(door.tick(304.0)) == [Reason.LOCK_NOT_ENGAGED]


def test_a_lock_that_engages_in_time_is_no_event() -> None:
    door = sensed_door()
    door.unlock(0.0)
    door.lock_sensed(False, 0.1)
    out = door.tick(5.0)  # unlock_seconds over, the door never opened: relock
    assert locks(out) == [False] and door.next_deadline() == 7.0
    assert door.lock_sensed(True, 5.3) == []
    assert door.next_deadline() is None
    assert notes(door.tick(60.0)) == []


def test_no_check_while_the_door_is_open_or_released_or_held() -> None:
    door = sensed_door()
    door.lock_sensed(False, 1.0)  # a maglock loses its bond as the door is forced
    door.door_changed(True, 1.0)
    assert door.next_deadline() == 31.0 - 10.0  # only the held-open warning
    assert door.tick(20.0) == []
    door.door_changed(False, 20.0)
    assert door.next_deadline() == 22.0  # shut and locked: now it must engage
    door.hold()  # evacuation: released and held, nothing to engage
    assert door.next_deadline() is None
    assert notes(door.tick(100.0)) == []
    door.release_hold(100.0)  # locked again, the sensor still says not engaged
    assert notes(door.tick(102.0)) == [Reason.LOCK_NOT_ENGAGED]


def test_lockdown_relocks_and_the_lock_must_engage() -> None:
    door = sensed_door()
    door.unlock(0.0)
    door.lock_sensed(False, 0.0)
    assert locks(door.secure(1.0)) == [False]
    assert door.next_deadline() == 3.0


def test_without_a_sensor_nothing_is_checked() -> None:
    door = DoorMachine(TIMING)
    door.unlock(0.0)
    door.tick(5.0)
    assert door.lock_engaged is None and door.next_deadline() is None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["unlock", "open", "close", "tick", "hold", "release", "secure", "on", "off"]
            ),
            st.floats(0, 50),
        ),
        max_size=40,
    )
)
def test_lock_not_engaged_only_when_locked_shut_and_unsensed(
    steps: list[tuple[str, float]],
) -> None:
    door = DoorMachine(TIMING)
    t = 0.0
    for what, dt in steps:
        t += dt
        out = door.lock_sensed(what == "on", t) if what in ("on", "off") else apply(door, what, t)
        if Reason.LOCK_NOT_ENGAGED in notes(out):
            assert door.lock_engaged is False and not door.lock_released
            assert not door.door_open and not door.held
        deadline = door.next_deadline()
        if what == "tick":
            assert deadline is None or deadline > t
