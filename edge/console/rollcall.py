"""Evacuation roll call: who should be at the assembly point, ticked off as they are seen.

Children inside are the ones dropped off through the gate today and not collected; staff
are the ones whose card opened the gate today (staff scans have no direction, so this is
who came in, and the list says so); visitors are the ones signed in and not out. All three
come from the day's events (``edge.day.DayLog`` and the staff scans). Ticks are stored per
evacuation (the id of the mode event that began it), so a page reload or a second guard's
tablet shows the same list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge.events import Event, EventType, Reason
from edge.host import GateHost
from edge.rules import Mode

KINDS = ("child", "staff", "visitor")


@dataclass(frozen=True, slots=True)
class Person:
    kind: str
    id: str
    name: str
    ticked_by: str | None = None


@dataclass
class Group:
    title: str
    people: list[Person] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(1 for p in self.people if p.ticked_by)


@dataclass
class RollCallView:
    evacuation: str | None  # the evacuation's id; None when there never was one
    started: str | None
    active: bool
    classes: list[Group]
    staff: Group
    visitors: Group

    @property
    def total(self) -> int:
        return sum(len(g.people) for g in self.groups)

    @property
    def done(self) -> int:
        return sum(g.done for g in self.groups)

    @property
    def groups(self) -> list[Group]:
        return [*self.classes, self.staff, self.visitors]


class RollCall:
    def __init__(self, host: GateHost) -> None:
        self.host = host

    def evacuation(self) -> Event | None:
        """The mode event that began the latest evacuation."""
        modes = self.host.store.newest(50, type=EventType.MODE)
        return next((e for e in modes if e.reason is Reason.EVACUATE), None)

    def view(self) -> RollCallView:
        start = self.evacuation()
        evac_id = start.id if start else None
        ticks = self.host.store.rollcall.of(evac_id) if evac_id else {}

        def person(kind: str, pid: str, name: str) -> Person:
            return Person(kind, pid, name, ticks.get((kind, pid)))

        visitors = self.host.gate.today.on_site()
        return RollCallView(
            evac_id,
            start.ts.isoformat(timespec="milliseconds") if start else None,
            self.host.gate.mode is Mode.EVACUATE,
            self._classes(person),
            Group("rc_staff", [person("staff", s, n) for s, n in self._staff_today()]),
            Group("rc_visitors", [person("visitor", v.id, v.name or v.id) for v in visitors]),
        )

    def _classes(self, person: Any) -> list[Group]:
        roster = self.host.gate.roster
        inside = self.host.gate.today.inside()
        groups: list[Group] = []
        for cls in sorted(roster.classes.values(), key=lambda c: c.class_id):
            kids = sorted(
                (c for c in roster.children_of_class(cls.class_id) if c.child_id in inside),
                key=lambda c: c.name,
            )
            if kids:
                groups.append(Group(cls.name, [person("child", c.child_id, c.name) for c in kids]))
        return groups

    def _staff_today(self) -> list[tuple[str, str]]:
        tz = self.host.cfg.site.tz
        today = self.host.clock.now().astimezone(tz).date()
        seen: dict[str, str] = {}
        for event in self.host.store.newest(2000, type=EventType.ACCESS, reason=Reason.STAFF):
            if event.local_day(tz) != today:
                break
            if event.person is not None:
                seen.setdefault(event.person.id, event.person.name or event.person.id)
        return sorted(seen.items(), key=lambda item: item[1])

    def tick(self, evacuation: str, kind: str, person: str, *, by: str, on: bool) -> bool:
        """Tick (or untick) a person; False when the evacuation is not the current one."""
        current = self.evacuation()
        if current is None or current.id != evacuation or kind not in KINDS:
            return False
        ticks = self.host.store.rollcall
        if on:
            at = self.host.clock.now().isoformat(timespec="seconds")
            ticks.tick(evacuation, kind, person, by=by, at=at)
        else:
            ticks.untick(evacuation, kind, person)
        return True
