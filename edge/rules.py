"""The release rules of DESIGN.md, as pure functions of roster, calendar, state and time.

Nothing here reads a clock or touches I/O: the caller passes ``now`` (aware, any zone)
and the site's zone. Every outcome carries a ``Reason``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo

from edge.events import Decision, Person, Reason
from edge.roster import Child, ClassWindow, DayKind, Guardian, Roster, Staff


class Mode(enum.StrEnum):
    NORMAL = "normal"
    LOCKDOWN = "lockdown"
    EVACUATE = "evacuate"


@dataclass(frozen=True, slots=True)
class Scan:
    credential: str
    reader: str = "entrance"
    low24: bool = False


@dataclass(frozen=True, slots=True)
class GateState:
    """What the rules need to know about the gate at the moment of a scan."""

    mode: Mode = Mode.NORMAL
    channel: str = "main"
    reader_locked: bool = False
    collected: Set[str] = frozenset()  # children collected today
    clock_trusted: bool = True  # False: no time sync since boot and no RTC


@dataclass(frozen=True, slots=True)
class Outcome:
    """The decision about one scan."""

    decision: Decision
    reason: Reason
    person: Person | None = None
    children: tuple[str, ...] = ()
    credential: str = ""
    per_child: Mapping[str, Reason] = field(default_factory=dict)
    blocked_children: tuple[str, ...] = ()  # for the alarm that goes with blocked_person

    @property
    def granted(self) -> bool:
        return self.decision is Decision.GRANTED


GRANTED_CHILD = {Reason.DROPOFF, Reason.PICKUP}
# Outcomes that rest on the date or the time of day. With an untrusted clock a guard
# looks instead: a wrong clock must neither let a child go early nor turn a parent away.
CLOCK_BOUND = {
    Reason.PICKUP,
    Reason.DELEGATE,
    Reason.OUTSIDE_WINDOW,
    Reason.NOT_SCHOOL_DAY,
    Reason.EXPIRED,
    Reason.WRONG_DATE,
    Reason.ALREADY_COLLECTED,
}
PASS_PREFIX = "qr:KG1."  # a signed one-time pass (edge/passes.py)


def local_minute(now: datetime, tz: tzinfo) -> tuple[date, time]:
    """The local date and the minute of day (seconds dropped: windows are in minutes)."""
    local = now.astimezone(tz)
    return local.date(), time(local.hour, local.minute)


def is_school_day(roster: Roster, day: date) -> bool:
    entry = roster.calendar.get(day)
    if entry is not None:
        return entry.kind is not DayKind.HOLIDAY
    return day.weekday() < 5


def shift_minutes(roster: Roster, day: date) -> int:
    entry = roster.calendar.get(day)
    return entry.shift_minutes if entry is not None else 0


def _shifted(t: time, minutes: int) -> time:
    """A time moved by ``minutes``, clamped to the same day."""
    total = max(0, min(t.hour * 60 + t.minute + minutes, 23 * 60 + 59))
    return time(total // 60, total % 60)


def dismissal(window: ClassWindow, shift: int) -> tuple[time, time]:
    return _shifted(window.dismiss_from, shift), _shifted(window.dismiss_until, shift)


def judge_child(
    child: Child,
    window: ClassWindow,
    *,
    minute: time,
    shift: int,
    channel: str,
    collected: Set[str],
) -> Reason:
    """Rule 8 for one child."""
    if window.channel and window.channel != channel:
        return Reason.WRONG_CHANNEL
    if minute < window.arrive_from:
        return Reason.OUTSIDE_WINDOW
    if minute <= window.arrive_until:
        return Reason.DROPOFF
    d_from, _ = dismissal(window, shift)
    if minute < d_from:
        return Reason.EARLY_PICKUP
    if child.child_id in collected:
        return Reason.ALREADY_COLLECTED
    return Reason.PICKUP


def _combine(person: Person, credential: str, per_child: dict[str, Reason]) -> Outcome:
    granted = [c for c, r in per_child.items() if r in GRANTED_CHILD]
    if granted:
        return Outcome(
            Decision.GRANTED, per_child[granted[0]], person, tuple(granted), credential, per_child
        )
    pending = [c for c, r in per_child.items() if r is Reason.EARLY_PICKUP]
    if pending:
        return Outcome(
            Decision.NEEDS_APPROVAL,
            Reason.EARLY_PICKUP,
            person,
            tuple(pending),
            credential,
            per_child,
        )
    first = next(iter(per_child.values()), Reason.UNKNOWN_CREDENTIAL)
    return Outcome(Decision.DENIED, first, person, tuple(per_child), credential, per_child)


def _person(who: Guardian | Staff | Child) -> Person:
    if isinstance(who, Guardian):
        return Person(who.guardian_id, "guardian", who.name)
    if isinstance(who, Staff):
        return Person(who.staff_id, "staff", who.name)
    return Person(who.child_id, "child", who.name)


def denied(
    reason: Reason, credential: str, person: Person | None = None, children: tuple[str, ...] = ()
) -> Outcome:
    return Outcome(Decision.DENIED, reason, person, children, credential)


def decide(scan: Scan, roster: Roster, state: GateState, now: datetime, tz: tzinfo) -> Outcome:
    """Decide one scan by the release rules, in their fixed order."""
    credential = roster.resolve(scan.credential, low24=scan.low24)
    shown = scan.credential
    if state.mode is Mode.EVACUATE:
        return Outcome(Decision.GRANTED, Reason.EVACUATION, credential=shown)
    if state.reader_locked:
        return denied(Reason.RATE_LIMITED, shown)
    who = roster.person_by_card(credential) if credential else None
    blocked = roster.blocked_by_card(credential) if credential else []
    if who is None and not blocked:
        return denied(Reason.UNKNOWN_CREDENTIAL, shown)
    if blocked:
        kids = tuple(dict.fromkeys(c for b in blocked for c in roster.blocked_children(b)))
        person = Person(who_id(who) if who else "blocked", "blocked", blocked[0].name)
        return Outcome(
            Decision.DENIED, Reason.BLOCKED_PERSON, person, kids, shown, blocked_children=kids
        )
    assert who is not None
    person = _person(who)
    if state.mode is Mode.LOCKDOWN:
        return denied(Reason.LOCKDOWN, shown, person)
    if isinstance(who, Staff):
        return Outcome(Decision.GRANTED, Reason.STAFF, person, credential=shown)
    day, minute = local_minute(now, tz)
    kids = who.children if isinstance(who, Guardian) else (who.child_id,)
    if isinstance(who, Guardian) and who.valid_until is not None and day > who.valid_until:
        return denied(Reason.EXPIRED, shown, person, kids)
    if not is_school_day(roster, day):
        return denied(Reason.NOT_SCHOOL_DAY, shown, person, kids)
    shift = shift_minutes(roster, day)
    per_child = {
        cid: judge_child(
            roster.children[cid],
            roster.classes[roster.children[cid].class_id],
            minute=minute,
            shift=shift,
            channel=state.channel,
            collected=state.collected,
        )
        for cid in kids
    }
    if isinstance(who, Child):
        # A child's own card records an arrival; a child never leaves on its own card.
        reason = per_child[who.child_id]
        if reason is Reason.DROPOFF:
            return Outcome(Decision.GRANTED, reason, person, kids, shown, per_child)
        return denied(
            reason
            if reason in (Reason.WRONG_CHANNEL, Reason.OUTSIDE_WINDOW)
            else Reason.OUTSIDE_WINDOW,
            shown,
            person,
            kids,
        )
    return _combine(person, shown, per_child)


def hold_for_clock(outcome: Outcome, state: GateState) -> Outcome:
    """With an untrusted clock, an outcome that depends on the time needs a guard."""
    if state.clock_trusted or outcome.reason not in CLOCK_BOUND:
        return outcome
    return replace(outcome, decision=Decision.NEEDS_APPROVAL, reason=Reason.CLOCK_UNSYNCED)


def who_id(who: Guardian | Staff | Child | None) -> str:
    if who is None:
        return "unknown"
    return _person(who).id


# --- the reader lock-out after a run of unknown credentials (rule 2) ------------------


@dataclass
class UnknownLimiter:
    limit: int = 5
    window: float = 60.0
    lockout: float = 60.0
    _seen: dict[str, list[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)

    def locked(self, reader: str, t: float) -> bool:
        return t < self._locked_until.get(reader, float("-inf"))

    def unknown(self, reader: str, t: float) -> bool:
        """Count an unknown credential; True when it locks the reader."""
        recent = [s for s in self._seen.get(reader, []) if t - s < self.window]
        recent.append(t)
        self._seen[reader] = recent
        if len(recent) >= self.limit:
            self._locked_until[reader] = t + self.lockout
            self._seen[reader] = []
            return True
        return False


# --- late pickups (rule 10) -------------------------------------------------------------


def late_deadline(
    roster: Roster, class_id: str, day: date, grace_minutes: int, tz: tzinfo
) -> datetime:
    """When children of a class still inside become late pickups."""
    _, d_until = dismissal(roster.classes[class_id], shift_minutes(roster, day))
    return datetime.combine(day, d_until, tz) + timedelta(minutes=grace_minutes)


def late_children(
    roster: Roster, class_id: str, dropped_off: Set[str], collected: Set[str]
) -> list[str]:
    return [
        c.child_id
        for c in roster.children_of_class(class_id)
        if c.child_id in dropped_off and c.child_id not in collected
    ]


# --- one-time QR passes (delegates and visitors) --------------------------------------


@dataclass(frozen=True, slots=True)
class PassFacts:
    """What the gate found out about a QR pass before the rules look at it."""

    rejection: Reason | None = None  # bad_signature, expired, wrong_date
    pass_id: str = ""
    kind: str = "delegate"  # delegate | visitor
    name: str = ""
    child: str | None = None
    used: bool = False
    revoked: bool = False


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def decide_pass(
    scan: Scan, facts: PassFacts, roster: Roster, state: GateState, now: datetime, tz: tzinfo
) -> Outcome:
    """The release rules for a pass: granted ``delegate`` for its child, date and window, once."""
    shown = scan.credential
    if state.mode is Mode.EVACUATE:
        return Outcome(Decision.GRANTED, Reason.EVACUATION, credential=shown)
    if state.reader_locked:
        return denied(Reason.RATE_LIMITED, shown)
    if facts.rejection is not None:
        return denied(facts.rejection, shown)
    kind = "visitor" if facts.kind == "visitor" else "delegate"
    person = Person(facts.pass_id, kind, facts.name)
    kids = (facts.child,) if facts.child and facts.child in roster.children else ()
    if facts.revoked:
        return denied(Reason.REVOKED, shown, person, kids)
    if facts.used:
        return denied(Reason.ALREADY_USED, shown, person, kids)
    blocked = [b for b in roster.blocked if _name_key(b.name) == _name_key(facts.name)]
    if blocked:
        names = tuple(dict.fromkeys(c for b in blocked for c in roster.blocked_children(b)))
        return Outcome(
            Decision.DENIED,
            Reason.BLOCKED_PERSON,
            Person(facts.pass_id, "blocked", facts.name),
            kids,
            shown,
            blocked_children=names,
        )
    if state.mode is Mode.LOCKDOWN:
        return denied(Reason.LOCKDOWN, shown, person, kids)
    if kind == "visitor":
        return Outcome(Decision.GRANTED, Reason.VISITOR, person, (), shown)
    if not kids:
        return denied(Reason.UNKNOWN_CREDENTIAL, shown, person)
    day, minute = local_minute(now, tz)
    if not is_school_day(roster, day):
        return denied(Reason.NOT_SCHOOL_DAY, shown, person, kids)
    child = roster.children[kids[0]]
    reason = judge_child(
        child,
        roster.classes[child.class_id],
        minute=minute,
        shift=shift_minutes(roster, day),
        channel=state.channel,
        collected=state.collected,
    )
    if reason is Reason.PICKUP:
        return Outcome(Decision.GRANTED, Reason.DELEGATE, person, kids, shown, {kids[0]: reason})
    if reason is Reason.EARLY_PICKUP:
        return Outcome(
            Decision.NEEDS_APPROVAL, Reason.EARLY_PICKUP, person, kids, shown, {kids[0]: reason}
        )
    # a delegate's pass is for collecting, not for bringing a child in
    return denied(
        Reason.OUTSIDE_WINDOW if reason is Reason.DROPOFF else reason, shown, person, kids
    )
