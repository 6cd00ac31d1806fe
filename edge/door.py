"""The door as a pure state machine: fed inputs and the time, it returns actions.

Times are monotonic seconds (never the wall clock: an NTP step must not open a door).
The machine never touches a pin; the gate applies its ``LockCommand``s to the hardware.

With a lock-state sensor wired (``[gpio] lock_sensor``), the machine also checks that
the lock really engages: once the lock is commanded locked with the door shut, the
sensor must say "engaged" within ``lock_engage_seconds``, or the machine reports
``lock_not_engaged`` (a bolt that missed its strike, a maglock without its bond): the
gate looks locked and is not. Reported once, until the sensor says engaged again.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.base import Feedback
from edge.events import Reason


@dataclass(frozen=True, slots=True)
class LockCommand:
    released: bool


@dataclass(frozen=True, slots=True)
class DoorNote:
    """Something about the door worth an event."""

    reason: Reason
    seconds_open: float | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    feedback: Feedback


Action = LockCommand | DoorNote | Signal


@dataclass(frozen=True, slots=True)
class DoorTiming:
    unlock_seconds: float = 5.0
    held_open_seconds: float = 30.0
    held_open_warning_seconds: float = 10.0
    lock_engage_seconds: float = 2.0


class DoorMachine:
    """Lock and door contact, with the timers that watch them.

    ``hold`` (evacuation) keeps the lock released until ``release_hold``; ``secure``
    (lockdown) drops any pending unlock. While held, an open door is never forced or held.
    """

    def __init__(self, timing: DoorTiming, *, door_open: bool = False, held: bool = False) -> None:
        self.timing = timing
        self.door_open = door_open
        self.held = held
        self.lock_released = held
        self._unlock_until: float | None = None
        self._authorized_until = float("-inf")
        self._opened_at: float | None = None
        self._warned = False
        self._held_reported = False
        # what the lock-state sensor last said; None without one (or before it spoke)
        self.lock_engaged: bool | None = None
        self._engage_by: float | None = None
        self._engage_reported = False

    # --- commands -------------------------------------------------------------------

    def start(self) -> list[Action]:
        """The state to drive at start: no pulse, just the safe level (or held open)."""
        return [LockCommand(self.lock_released)]

    def unlock(self, t: float) -> list[Action]:
        """A grant, exit request or guard open: release for ``unlock_seconds``."""
        self._authorized_until = t + self.timing.unlock_seconds
        if self.held:
            return []
        self._unlock_until = t + self.timing.unlock_seconds
        self._engage_by = None  # released: nothing to engage (the scan path: no call)
        return self._set_lock(True)

    def hold(self) -> list[Action]:
        """Evacuation: release and keep released."""
        self.held = True
        self._unlock_until = None
        self._engage_by = None  # released: nothing to engage
        self._clear_open_watch()
        return self._set_lock(True)

    def release_hold(self, t: float) -> list[Action]:
        self.held = False
        if self.door_open:
            self._opened_at = t  # the held-open watch starts now, not at the evacuation
        return self._watch_engagement(t, self._set_lock(False))

    def secure(self, t: float) -> list[Action]:
        """Lockdown: lock now, whatever was pending."""
        self._unlock_until = None
        self._authorized_until = float("-inf")
        return self._watch_engagement(t, self._set_lock(False) if not self.held else [])

    # --- inputs ---------------------------------------------------------------------

    def lock_sensed(self, engaged: bool, t: float) -> list[Action]:
        """The lock-state sensor changed: engaged (bolt thrown, bond made) or not."""
        self.lock_engaged = engaged
        if engaged:
            self._engage_reported = False
        return self._watch_engagement(t, [])

    def door_changed(self, is_open: bool, t: float) -> list[Action]:
        return self._watch_engagement(t, self._door_changed(is_open, t))

    def _door_changed(self, is_open: bool, t: float) -> list[Action]:
        if is_open == self.door_open:
            return []
        self.door_open = is_open
        if is_open:
            out: list[Action] = [DoorNote(Reason.OPENED)]
            self._opened_at = t
            self._warned = self._held_reported = False
            if not self.held and t > self._authorized_until:
                out += [DoorNote(Reason.FORCED_OPEN), Signal(Feedback.ALARM)]
            return out
        seconds = t - self._opened_at if self._opened_at is not None else None
        self._clear_open_watch()
        out = [DoorNote(Reason.CLOSED, seconds)]
        if self.lock_released and not self.held:
            # relock as soon as the door has been through: one grant, one passage
            self._unlock_until = None
            out += self._set_lock(False)
        return out

    def tick(self, t: float) -> list[Action]:
        out: list[Action] = []
        if self._unlock_until is not None and t >= self._unlock_until:
            self._unlock_until = None
            out += self._set_lock(False)
        out = self._watch_engagement(t, out)
        if self._engage_by is not None and t >= self._engage_by:
            self._engage_by = None
            self._engage_reported = True
            out += [DoorNote(Reason.LOCK_NOT_ENGAGED), Signal(Feedback.ALARM)]
        if self._opened_at is not None and not self.held:
            open_for = t - self._opened_at
            warn_at = self.timing.held_open_seconds - self.timing.held_open_warning_seconds
            if not self._warned and self.timing.held_open_warning_seconds and open_for >= warn_at:
                self._warned = True
                out.append(Signal(Feedback.WARNING))
            if not self._held_reported and open_for >= self.timing.held_open_seconds:
                self._held_reported = True
                out += [DoorNote(Reason.HELD_OPEN, open_for), Signal(Feedback.ALARM)]
        return out

    def next_deadline(self) -> float | None:
        times = []
        if self._unlock_until is not None:
            times.append(self._unlock_until)
        if self._engage_by is not None:
            times.append(self._engage_by)
        if self._opened_at is not None and not self.held:
            if not self._warned and self.timing.held_open_warning_seconds:
                times.append(
                    self._opened_at
                    + self.timing.held_open_seconds
                    - self.timing.held_open_warning_seconds
                )
            if not self._held_reported:
                times.append(self._opened_at + self.timing.held_open_seconds)
        return min(times) if times else None

    # --- helpers --------------------------------------------------------------------

    def _set_lock(self, released: bool) -> list[Action]:
        if released == self.lock_released:
            return []
        self.lock_released = released
        return [LockCommand(released)]

    @property
    def lock_fault(self) -> bool:
        """``lock_not_engaged`` was reported and the sensor has not said engaged since."""
        return self._engage_reported and self.lock_engaged is False

    def _watch_engagement(self, t: float, out: list[Action]) -> list[Action]:
        """Start (or stop) waiting for the sensor to say engaged; returns ``out``."""
        expected = self.lock_engaged is False and not self.lock_released and not self.door_open
        if not expected:
            self._engage_by = None
        elif self._engage_by is None and not self._engage_reported:
            self._engage_by = t + self.timing.lock_engage_seconds
        return out

    def _clear_open_watch(self) -> None:
        self._opened_at = None
        self._warned = self._held_reported = False
