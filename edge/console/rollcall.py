"""Evacuation roll call: who should be at the assembly point, ticked off as they are seen.

Children inside are the ones dropped off through the gate today and not collected; staff
are the ones whose card opened the gate today (staff scans have no direction, so this is
who came in, and the list says so); visitors are the ones signed in and not out. Ticks
are stored per evacuation (the id of the mode event that began it), so a page reload or
a second guard's tablet shows the same list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge.console.host import GateHost
from edge.console.visitors import VisitorBook
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
    def __init__(self, host: GateHost, visitors: VisitorBook) -> None:
        self.host = host
        self.visitors = visitors

    def _events(self, where: str, limit: int) -> list[dict[str, Any]]:
        with self.host.store.transaction() as db:
            rows = db.execute(
                f"SELECT body FROM events WHERE {where} ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def evacuation(self) -> dict[str, Any] | None:
        """The mode event that began the latest evacuation."""
        modes = self._events("type = 'mode'", 50)
        return next((e for e in modes if e.get("mode") == "evacuate"), None)

    def _ticks(self, evacuation: str) -> dict[tuple[str, str], str]:
        with self.host.store.transaction() as db:
            rows = db.execute(
                "SELECT kind, person, by FROM rollcall_ticks WHERE evacuation = ?", (evacuation,)
            ).fetchall()
        return {(r[0], r[1]): r[2] for r in rows}

    def view(self) -> RollCallView:
        start = self.evacuation()
        evac_id = start["id"] if start else None
        ticks = self._ticks(evac_id) if evac_id else {}

        def person(kind: str, pid: str, name: str) -> Person:
            return Person(kind, pid, name, ticks.get((kind, pid)))

        return RollCallView(
            evac_id,
            start["ts"] if start else None,
            self.host.gate.mode is Mode.EVACUATE,
            self._classes(person),
            Group("rc_staff", [person("staff", s, n) for s, n in self._staff_today()]),
            Group(
                "rc_visitors", [person("visitor", v.id, v.name) for v in self.visitors.on_site()]
            ),
        )

    def _classes(self, person: Any) -> list[Group]:
        roster, today = self.host.gate.roster, self.host.gate.today
        inside = today.dropped_off - today.collected
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
        for event in self._events("type = 'access' AND reason = 'staff'", 2000):
            if datetime.fromisoformat(event["ts"]).astimezone(tz).date() != today:
                break
            person = event.get("person") or {}
            if person.get("id"):
                seen.setdefault(person["id"], person.get("name") or person["id"])
        return sorted(seen.items(), key=lambda item: item[1])

    def tick(self, evacuation: str, kind: str, person: str, *, by: str, on: bool) -> bool:
        """Tick (or untick) a person; False when the evacuation is not the current one."""
        current = self.evacuation()
        if current is None or current["id"] != evacuation or kind not in KINDS:
            return False
        with self.host.store.transaction() as db:
            if on:
                db.execute(
                    "INSERT OR IGNORE INTO rollcall_ticks VALUES (?, ?, ?, ?, ?)",
                    (
                        evacuation,
                        kind,
                        person,
                        by,
                        self.host.clock.now().isoformat(timespec="seconds"),
                    ),
                )
            else:
                db.execute(
                    "DELETE FROM rollcall_ticks WHERE evacuation = ? AND kind = ? AND person = ?",
                    (evacuation, kind, person),
                )
        return True
