"""The gate: rules, door and the day's state, driven by inputs and the clock.

One ``Gate`` is owned by one event loop (the daemon's, or a simulation's). Each input
returns the events it caused as ``Draft``s; the hardware is driven *before* they are
returned, so the lock never waits for the log. The caller records the drafts durably.
Every draft shapes the day (``edge.day.DayLog``) as it is made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from drivers.base import Feedback, GateIO, Input, InputChange, Read
from edge.clock import Clock
from edge.config import Config
from edge.day import DayLog
from edge.door import Action, DoorMachine, DoorNote, DoorTiming, LockCommand, Signal
from edge.events import NOT_GENUINE, Decision, Draft, Event, EventType, Person, Reason
from edge.guard import GuardAction, GuardDesk
from edge.passes import PassRejected, verify_pass
from edge.roster import Roster
from edge.rules import (
    PASS_PREFIX,
    GateState,
    Mode,
    Outcome,
    PassFacts,
    Scan,
    UnknownLimiter,
    decide,
    decide_pass,
    hold_for_clock,
    local_minute,
)

log = logging.getLogger(__name__)

FEEDBACK = {
    Decision.GRANTED: Feedback.GRANTED,
    Decision.DENIED: Feedback.DENIED,
    Decision.NEEDS_APPROVAL: Feedback.NEEDS_APPROVAL,
}
MODE_REASONS = {
    Mode.NORMAL: Reason.NORMAL,
    Mode.LOCKDOWN: Reason.LOCKDOWN,
    Mode.EVACUATE: Reason.EVACUATE,
}


class Gate:
    def __init__(
        self,
        cfg: Config,
        roster: Roster,
        io: GateIO,
        clock: Clock,
        *,
        mode: Mode = Mode.NORMAL,
        pass_key: bytes | None = None,
    ) -> None:
        self.cfg = cfg
        self.roster = roster
        self.io = io
        self.clock = clock
        self.tz = cfg.site.tz
        g = cfg.gate
        self.door = DoorMachine(
            DoorTiming(
                g.unlock_seconds,
                g.held_open_seconds,
                g.held_open_warning_seconds,
                g.lock_engage_seconds,
            ),
            held=mode is Mode.EVACUATE,
        )
        self.mode = mode
        self.fire_alarm_active = False
        self.limiter = UnknownLimiter(
            g.unknown_limit, g.unknown_window_seconds, g.unknown_lockout_seconds
        )
        self.today = DayLog(self._local_day())
        self.desk = GuardDesk(self)
        self.pass_key = pass_key  # the site key; without it no QR pass is genuine
        self.revoked_passes: set[str] = set()
        # Asked before every decision; edge/ops/timesync.py's ClockWatch answers it on a Pi.
        self.clock_trusted: Callable[[], bool] = lambda: True
        self._apply(self.door.start())

    # --- time -----------------------------------------------------------------------

    def _local_day(self) -> date:
        return self.clock.now().astimezone(self.tz).date()

    def _day(self) -> DayLog:
        day = self._local_day()
        if day != self.today.day:
            self.today = DayLog(day)
        return self.today

    def draft(self, type_: EventType, reason: Reason, **fields: Any) -> Draft:
        """An event of the gate, now; today's state takes it in at once."""
        if not self.clock_trusted():
            # the timestamp itself is in doubt: say so on every event
            fields["detail"] = {**fields.get("detail", {}), "clock": "unsynced"}
        draft = Draft(type=type_, reason=reason, ts=self.clock.now(), **fields)
        self._day().apply(draft)
        return draft

    # --- inputs ---------------------------------------------------------------------

    def scan(self, read: Read) -> list[Draft]:
        if read.credential is None:
            return [
                self.draft(
                    EventType.SYSTEM,
                    Reason.BAD_READ,
                    reader=read.reader,
                    detail={"error": read.error or "unreadable", "raw": read.raw},
                )
            ]
        t = self.clock.monotonic()
        day = self._day()
        state = GateState(
            mode=self.mode,
            channel=self.cfg.gate.channel,
            reader_locked=self.limiter.locked(read.reader, t),
            collected=day.collected,  # read during this call only: no copy on the scan path
            clock_trusted=self.clock_trusted(),
        )
        scan = Scan(read.credential, read.reader, read.low24)
        if read.credential.startswith(PASS_PREFIX):
            facts = self._pass_facts(read.credential)
            outcome = hold_for_clock(
                decide_pass(scan, facts, self.roster, state, self.clock.now(), self.tz), state
            )
            extra = {"detail": {"pass_id": facts.pass_id}} if facts.pass_id else {}
            return self._act_on(outcome, read.reader, t, **extra)
        outcome = hold_for_clock(decide(scan, self.roster, state, self.clock.now(), self.tz), state)
        return self._act_on(outcome, read.reader, t)

    def _pass_facts(self, credential: str) -> PassFacts:
        """Check a QR pass's signature, date and use; the rules judge the rest."""
        payload = credential.removeprefix("qr:")
        if self.pass_key is None:
            return PassFacts(rejection=Reason.BAD_SIGNATURE)
        now = self.clock.now()
        try:
            found = verify_pass(
                self.pass_key, payload, today=now.astimezone(self.tz).date(), now=now
            )
        except PassRejected as err:
            return PassFacts(rejection=err.reason)
        day = self._day()
        return PassFacts(
            pass_id=found.id,
            kind=str(found.kind),
            name=found.name,
            child=found.child,
            used=found.id in day.used_passes,
            # a visitor's badge serves one visit: once signed out, it is as good as revoked
            revoked=found.id in self.revoked_passes or day.visit_over(found.id),
        )

    def _act_on(self, outcome: Outcome, reader: str, t: float, **extra: Any) -> list[Draft]:
        day = self.today
        if outcome.granted:
            self._apply(self.door.unlock(t))
        self.io.signal(FEEDBACK[outcome.decision])
        event = self.draft(
            EventType.ACCESS,
            outcome.reason,
            decision=outcome.decision,
            credential=outcome.credential,
            person=outcome.person,
            children=outcome.children,
            reader=reader,
            **extra,
        )
        out = [event]
        if outcome.decision is Decision.NEEDS_APPROVAL:
            day.pending[outcome.credential] = (outcome, t)
        elif outcome.reason in NOT_GENUINE and self.limiter.unknown(reader, t):
            out.append(
                self.draft(
                    EventType.SYSTEM,
                    Reason.RATE_LIMITED,
                    reader=reader,
                    detail={"locked_seconds": self.limiter.lockout},
                )
            )
        elif outcome.reason is Reason.BLOCKED_PERSON:
            self.io.signal(Feedback.ALARM)
            out.append(
                self.draft(
                    EventType.ALARM,
                    Reason.BLOCKED_PERSON,
                    person=outcome.person,
                    credential=outcome.credential,
                    children=outcome.blocked_children,
                    reader=reader,
                )
            )
        return out

    def input_changed(self, change: InputChange) -> list[Draft]:
        """A contact changed: the one place that says what each input means."""
        if change.input is Input.DOOR:
            return self.door_changed(change.active)
        if change.input is Input.EXIT_BUTTON:
            return self.exit_button() if change.active else []
        if change.input is Input.FIRE_ALARM:
            return self.fire_alarm(change.active)
        if change.input is Input.TAMPER:
            detail = {"active": change.active}
            reader = change.source or None  # a reader's own tamper switch (OSDP)
            return [self.draft(EventType.ALARM, Reason.TAMPER, reader=reader, detail=detail)]
        if change.input is Input.LOCK_SENSOR:
            return self._apply(self.door.lock_sensed(change.active, self.clock.monotonic()))
        return []

    def door_changed(self, is_open: bool) -> list[Draft]:
        return self._apply(self.door.door_changed(is_open, self.clock.monotonic()))

    def exit_button(self) -> list[Draft]:
        if self.mode is Mode.LOCKDOWN:
            self.io.signal(Feedback.DENIED)
            return [
                self.draft(
                    EventType.ACCESS,
                    Reason.LOCKDOWN,
                    decision=Decision.DENIED,
                    detail={"input": "exit_button"},
                )
            ]
        self._apply(self.door.unlock(self.clock.monotonic()))
        return [
            self.draft(
                EventType.ACCESS,
                Reason.EXIT_REQUEST,
                decision=Decision.GRANTED,
                detail={"input": "exit_button"},
            )
        ]

    def fire_alarm(self, on: bool) -> list[Draft]:
        if on == self.fire_alarm_active:
            return []
        self.fire_alarm_active = on
        if not on:
            # The evacuation goes on until a guard says `normal`: people are still outside.
            return [self.draft(EventType.ALARM, Reason.FIRE_ALARM_CLEARED)]
        self.io.signal(Feedback.ALARM)
        return [
            self.draft(EventType.ALARM, Reason.FIRE_ALARM),
            *self.set_mode(Mode.EVACUATE, by="fire_alarm"),
        ]

    def guard(self, action: GuardAction) -> list[Draft]:
        return self.desk.handle(action)

    def set_mode(self, mode: Mode, *, by: str) -> list[Draft]:
        if mode is self.mode:
            return []
        if self.mode is Mode.EVACUATE and self.fire_alarm_active:
            return [
                self.draft(
                    EventType.SYSTEM, Reason.FIRE_ALARM_ACTIVE, by=by, detail={"refused": str(mode)}
                )
            ]
        before, self.mode = self.mode, mode
        t = self.clock.monotonic()
        if mode is Mode.EVACUATE:
            self._apply(self.door.hold())
        else:
            if before is Mode.EVACUATE:
                self._apply(self.door.release_hold(t))
            if mode is Mode.LOCKDOWN:
                self._apply(self.door.secure(t))
        self.io.signal(Feedback.ALARM if mode is not Mode.NORMAL else Feedback.IDLE)
        return [
            self.draft(
                EventType.MODE,
                MODE_REASONS[mode],
                mode=str(mode),
                by=by,
                detail={"from": str(before)},
            )
        ]

    def open_by_guard(self) -> None:
        self._apply(self.door.unlock(self.clock.monotonic()))

    def set_roster(self, roster: Roster) -> list[Draft]:
        self.roster = roster
        return [
            self.draft(
                EventType.SYSTEM,
                Reason.ROSTER_LOADED,
                detail={"version": roster.version, "hash": roster.content_hash},
            )
        ]

    # --- timers ---------------------------------------------------------------------

    def tick(self) -> list[Draft]:
        """Run every timer that is due."""
        out = self._apply(self.door.tick(self.clock.monotonic()))
        out += self._late_pickups()
        self._expire_pending()
        return out

    def next_wakeup(self) -> float | None:
        """Seconds until the next timer is due (0 when one is due now)."""
        waits: list[float] = []
        door_at = self.door.next_deadline()
        if door_at is not None:
            waits.append(door_at - self.clock.monotonic())
        late = self._day().late_deadlines(self.roster, self.cfg.gate.late_grace_minutes, self.tz)
        if late:
            waits.append((late[0][0] - self.clock.now()).total_seconds())
        return max(0.0, min(waits)) if waits else None

    def _late_pickups(self) -> list[Draft]:
        grace, now = self.cfg.gate.late_grace_minutes, self.clock.now()
        out: list[Draft] = []
        for class_id, when, late in self._day().mark_late(self.roster, grace, self.tz, now):
            for child_id in late:
                child = self.roster.children[child_id]
                out.append(
                    self.draft(
                        EventType.LATE_PICKUP,
                        Reason.LATE_PICKUP,
                        person=Person(child.child_id, "child", child.name),
                        children=(child_id,),
                        detail={"class_id": class_id, "due": when.isoformat(timespec="minutes")},
                    )
                )
        return out

    def _expire_pending(self) -> None:
        limit = self.cfg.gate.approval_minutes * 60
        t = self.clock.monotonic()
        expired = [c for c, (_, since) in self.today.pending.items() if t - since > limit]
        for cred in expired:
            del self.today.pending[cred]
        quiet = self.mode is Mode.NORMAL and not self.door.door_open  # no alarm showing
        if expired and not self.today.pending and quiet:
            self.io.signal(Feedback.IDLE)  # nobody waits for a guard any more: amber off

    # --- hardware -------------------------------------------------------------------

    def _apply(self, actions: list[Action]) -> list[Draft]:
        out: list[Draft] = []
        for action in actions:
            if isinstance(action, LockCommand):
                self.io.set_lock(action.released)
            elif isinstance(action, Signal):
                self.io.signal(action.feedback)
            elif isinstance(action, DoorNote):
                detail = (
                    {"seconds_open": round(action.seconds_open, 1)}
                    if action.seconds_open is not None
                    else {}
                )
                out.append(self.draft(EventType.DOOR, action.reason, detail=detail))
        return out

    def day_start(self) -> datetime:
        """Local midnight of today: the events before it do not shape today."""
        return datetime.combine(self._day().day, datetime.min.time(), self.tz)

    def restore(self, events: Iterable[Event]) -> None:
        """Rebuild today's state from today's stored events, in order."""
        day = self._day()
        start = self.day_start()
        for event in events:
            if event.ts >= start:
                day.apply(event)

    def status(self) -> dict[str, Any]:
        _, minute = local_minute(self.clock.now(), self.tz)
        return {
            "mode": str(self.mode),
            "door": "open" if self.door.door_open else "closed",
            "lock": "released" if self.door.lock_released else "locked",
            "lock_engaged": self.door.lock_engaged,  # the lock-state sensor; None without one
            "lock_fault": self.door.lock_fault,  # relocked and the sensor says not engaged
            "fire_alarm": self.fire_alarm_active,
            "roster_version": self.roster.version,
            "pending_approvals": sorted(self.today.pending),
            "time": minute.isoformat(timespec="minutes"),
        }
