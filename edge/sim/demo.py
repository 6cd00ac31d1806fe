"""`kindergate demo`: a day at the example kindergarten, replayed in virtual time.

The day is built from the roster with a fixed seed, run through the same Simulation as
`simulate` (simulated pins, in-memory store, no broker), and told as a timeline with a
closing summary.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from edge.config import Config
from edge.events import COLLECTING, DOOR_ALARMS, Event, EventType, Reason
from edge.roster import Roster
from edge.sim.simulate import Simulation, Step

DEMO_DAY = date(2026, 11, 24)  # a Tuesday


@dataclass(order=True)
class Planned:
    at: time
    order: int
    step: dict[str, Any]


class DayPlan:
    """The steps of one day, kept in time order."""

    def __init__(self, roster: Roster, channel: str, seed: int = 2026) -> None:
        self.roster = roster
        self.channel = channel
        self.rng = random.Random(seed)
        self.steps: list[Planned] = []
        self.early = ""  # the child collected early, with a guard's approval

    def add(self, at: time, **step: Any) -> None:
        self.steps.append(Planned(at, len(self.steps), {"at": at.isoformat(), **step}))

    def pass_through(self, at: time, card: str, *, dwell: int = 4) -> None:
        """A scan, then the door opened and closed behind the person."""
        self.add(at, scan=f"card:{card}")
        self.add(_plus(at, 2), door="open")
        self.add(_plus(at, 2 + dwell), door="closed")

    def here(self, class_id: str) -> bool:
        channel = self.roster.classes[class_id].channel
        return not channel or channel == self.channel

    def build(self) -> list[Step]:
        r = self.roster
        kids_here = [c for c in r.children.values() if self.here(c.class_id)]
        absent = set(self.rng.sample([c.child_id for c in kids_here], 4))
        by_child: dict[str, list[Any]] = {}
        for g in r.guardians.values():
            if g.valid_until is None:
                for cid in g.children:
                    by_child.setdefault(cid, []).append(g)
        self._morning(kids_here, absent, by_child)
        self.early = next(
            c.child_id
            for c in sorted(kids_here, key=lambda c: c.child_id)
            if c.child_id not in absent
            and any(g.children == (c.child_id,) for g in by_child[c.child_id])
        )
        self._daytime(by_child)
        late = self._afternoon(kids_here, absent, by_child)
        self._incidents(late, by_child)
        return [Step.model_validate(p.step) for p in sorted(self.steps)]

    def _morning(self, kids: list[Any], absent: set[str], by_child: dict[str, list[Any]]) -> None:
        for staff in self.roster.staff.values():
            self.pass_through(
                time(7, 10 + self.rng.randint(0, 15), self.rng.randint(0, 59)),
                staff.card.removeprefix("card:"),
            )
        done: set[str] = set()
        for child in kids:
            if child.child_id in absent or child.child_id in done:
                continue
            guardian = self.rng.choice(by_child[child.child_id])
            done.update(guardian.children)
            at = (
                time(7, 30 + self.rng.randint(0, 14), self.rng.randint(0, 59))
                if self.rng.random() < 0.5
                else time(8, self.rng.randint(0, 44), self.rng.randint(0, 59))
            )
            self.pass_through(at, guardian.card.removeprefix("card:"))

    def _daytime(self, by_child: dict[str, list[Any]]) -> None:
        self.add(time(10, 0), fire_alarm="on")
        self.add(time(10, 0, 20), door="open")
        self.add(time(10, 2, 30), fire_alarm="off")
        self.add(time(10, 4), door="closed")
        self.add(time(10, 5), guard={"action": "normal", "by": "S001"})
        self.add(
            time(10, 30),
            guard={
                "action": "visitor_in",
                "name": "Zhao Min",
                "id_number": "110101198805051234",
                "host": "Director",
                "purpose": "fire extinguisher service",
                "by": "S001",
            },
        )
        self.add(time(11, 20), guard={"action": "visitor_out", "name": "Zhao Min", "by": "S001"})
        guardian = next(g for g in by_child[self.early] if g.children == (self.early,))
        card = guardian.card
        self.add(time(14, 10), scan=card)
        self.add(time(14, 12), guard={"action": "approve", "credential": card, "by": "S002"})
        self.add(time(14, 12, 3), door="open")
        self.add(time(14, 12, 9), door="closed")

    def _afternoon(
        self, kids: list[Any], absent: set[str], by_child: dict[str, list[Any]]
    ) -> list[str]:
        """Pickups in each class's window; three children are left late."""
        collected: set[str] = set()
        candidates = [c.child_id for c in kids if c.child_id not in absent]
        late = self.rng.sample(candidates, 3)
        approved = self.early
        for child in kids:
            cid = child.child_id
            if cid in absent or cid in collected or cid in late or cid == approved:
                continue
            window = self.roster.classes[child.class_id]
            start = window.dismiss_from.hour * 60 + window.dismiss_from.minute
            minute = start + self.rng.randint(0, 25)
            guardian = self.rng.choice(by_child[cid])
            if any(c in late or c == approved for c in guardian.children):
                guardian = next(
                    (g for g in by_child[cid] if not set(g.children) & (set(late) | {approved})),
                    guardian,
                )
            latest = max(self._dismiss_minute(c) for c in guardian.children)
            minute = max(minute, latest)
            collected.update(c for c in guardian.children if self._dismiss_minute(c) <= minute)
            self.pass_through(
                time(minute // 60, minute % 60, self.rng.randint(0, 59)),
                guardian.card.removeprefix("card:"),
            )
        # one late child is collected after the late-pickup alarm
        self.pass_through(time(17, 48), by_child[late[0]][0].card.removeprefix("card:"))
        return late

    def _dismiss_minute(self, child_id: str) -> int:
        window = self.roster.classes[self.roster.children[child_id].class_id]
        return window.dismiss_from.hour * 60 + window.dismiss_from.minute

    def _incidents(self, late: list[str], by_child: dict[str, list[Any]]) -> None:
        r = self.roster
        blocked = next(b for b in r.blocked if b.card)
        self.add(time(16, 6, 30), scan=blocked.card)
        self.add(time(16, 12), scan="card:0000000042")
        other = [c for c in r.classes.values() if c.channel and c.channel != self.channel]
        if other:
            kid = next(c for c in r.children.values() if c.class_id == other[0].class_id)
            self.add(time(16, 52), scan=by_child[kid.child_id][0].card)
        expired = next((g for g in r.guardians.values() if g.valid_until is not None), None)
        if expired:
            self.add(time(16, 15), scan=expired.card)
        self.add(time(16, 21), door="open")  # pushed open from outside
        self.add(time(16, 21, 8), door="closed")
        self.add(time(16, 58), button="press")
        self.add(time(16, 58, 2), door="open")
        self.add(time(16, 59, 10), door="closed")  # held open a minute: a pram


def _plus(t: time, seconds: int) -> time:
    moved = datetime.combine(DEMO_DAY, t) + timedelta(seconds=seconds)
    return moved.time()


def run_demo(cfg: Config, roster: Roster) -> list[Event]:
    events: list[Event] = []
    plan = DayPlan(roster, cfg.gate.channel)
    steps = plan.build()
    tz = cfg.site.tz
    sim = Simulation(cfg, roster, datetime.combine(DEMO_DAY, time(6, 0), tz), events.append)
    try:
        for step in steps:
            sim.advance_to(datetime.combine(DEMO_DAY, step.local_time, tz))
            sim.step(step)
        sim.advance_to(datetime.combine(DEMO_DAY, time(19, 0), tz))
    finally:
        sim.close()
    return events


def summary(events: list[Event], roster: Roster) -> dict[str, Any]:
    dropped: set[str] = set()
    collected: set[str] = set()
    for e in events:
        if e.type is EventType.ACCESS and e.granted:
            if e.reason is Reason.DROPOFF:
                dropped.update(e.children)
            elif e.reason in COLLECTING:
                collected.update(e.children)
    per_class = {}
    for cid, window in roster.classes.items():
        kids = {c.child_id for c in roster.children_of_class(cid)}
        per_class[window.name] = (len(kids & dropped & collected), len(kids & dropped))
    alarms = Counter(
        str(e.reason)
        for e in events
        if e.type is EventType.ALARM or (e.type is EventType.DOOR and e.reason in DOOR_ALARMS)
    )
    return {
        "per_class": per_class,
        "still_inside": sorted(dropped - collected),
        "late": [c for e in events if e.type is EventType.LATE_PICKUP for c in e.children],
        "alarms": dict(alarms),
        "decisions": dict(
            Counter(str(e.decision) for e in events if e.type is EventType.ACCESS and e.decision)
        ),
    }
