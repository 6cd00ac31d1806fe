"""The school day at the gate, as its events tell it.

Who was dropped off and collected, which passes collected a child, which classes were
reported late, which visitors came and went: all of it follows from the day's events, by
the rules in ``DayLog.apply``. The gate applies each event as it decides it (the draft,
before it is even written), and after a restart the daemon applies today's stored events
again, in order: both paths go through the same rules, so the day rebuilt after a
restart is the day the gate had.

Only waiting approvals are not events yet: they live in memory and end with the process
(a guardian scans again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, Protocol

from edge.events import COLLECTING, Decision, EventType, Person, Reason
from edge.roster import Roster
from edge.rules import Outcome, is_school_day, late_children, late_deadline


class Happening(Protocol):
    """What the day reads of an event: a ``Draft`` just decided, or a stored ``Event``."""

    @property
    def type(self) -> EventType: ...
    @property
    def reason(self) -> Reason: ...
    @property
    def decision(self) -> Decision | None: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def person(self) -> Person | None: ...
    @property
    def children(self) -> tuple[str, ...]: ...
    @property
    def by(self) -> str | None: ...
    @property
    def detail(self) -> Mapping[str, Any]: ...


@dataclass
class Visit:
    """A visitor let in today, and what became of the visit."""

    id: str
    name: str | None
    arrived: datetime
    left: datetime | None = None
    out_by: str | None = None
    overstay_reported: bool = False

    @property
    def on_site(self) -> bool:
        return self.left is None


class DayLog:
    """Today at this gate; ``apply`` each event of the day, in order."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.dropped_off: set[str] = set()
        self.collected: set[str] = set()
        self.late_reported: set[str] = set()  # class ids
        self.used_passes: set[str] = set()  # a pass is valid on one date only: today's suffice
        self.visits: dict[str, Visit] = {}  # visitors let in today, by visit id
        self.visitor_ids: set[str] = set()  # every visit id seen today, let in or refused
        self.pending: dict[str, tuple[Outcome, float]] = {}  # credential -> (outcome, t)

    def apply(self, event: Happening) -> None:
        if event.type is EventType.ACCESS and event.decision is Decision.GRANTED:
            self._access(event)
        elif event.type is EventType.VISITOR:
            self._visitor(event)
        elif event.type is EventType.LATE_PICKUP:
            class_id = event.detail.get("class_id")
            if isinstance(class_id, str):
                self.late_reported.add(class_id)

    def _access(self, event: Happening) -> None:
        if event.reason is Reason.DROPOFF:
            self.dropped_off.update(event.children)
        elif event.reason in COLLECTING:
            self.collected.update(event.children)
            pass_id = event.detail.get("pass_id")
            if isinstance(pass_id, str):
                self.used_passes.add(pass_id)

    def _visitor(self, event: Happening) -> None:
        if event.person is None:
            return
        vid = event.person.id
        self.visitor_ids.add(vid)
        visit = self.visits.get(vid)
        if event.reason is Reason.VISITOR_IN and event.decision is Decision.GRANTED:
            self.visits[vid] = Visit(vid, event.person.name, event.ts)
        elif visit is None:
            return
        elif event.reason is Reason.VISITOR_OUT:
            visit.left, visit.out_by = event.ts, event.by
        elif event.reason is Reason.VISITOR_OVERSTAY:
            visit.overstay_reported = True

    # --- what the day says ------------------------------------------------------------

    def inside(self) -> set[str]:
        """Children dropped off through the gate today and not collected."""
        return self.dropped_off - self.collected

    def on_site(self) -> list[Visit]:
        """Visitors let in today and not signed out, in the order they came."""
        return [v for v in self.visits.values() if v.on_site]

    def visit_over(self, vid: str) -> bool:
        """Whether visit ``vid`` came today and has ended: its badge opens nothing more."""
        visit = self.visits.get(vid)
        return visit is not None and not visit.on_site

    def late_deadlines(self, roster: Roster, grace: int, tz: tzinfo) -> list[tuple[datetime, str]]:
        """(when, class id) of each class not yet reported late today, soonest first."""
        if not is_school_day(roster, self.day):
            return []
        return sorted(
            (late_deadline(roster, cid, self.day, grace, tz), cid)
            for cid in roster.classes
            if cid not in self.late_reported
        )

    def mark_late(
        self, roster: Roster, grace: int, tz: tzinfo, now: datetime
    ) -> list[tuple[str, datetime, list[str]]]:
        """Classes whose time is up at ``now``, each once: (class id, deadline, the
        children of it still inside). A class with none inside is marked all the same."""
        out = []
        for when, class_id in self.late_deadlines(roster, grace, tz):
            if now < when:
                break
            self.late_reported.add(class_id)
            out.append(
                (class_id, when, late_children(roster, class_id, self.dropped_off, self.collected))
            )
        return out

    def next_visit_id(self) -> str:
        """A visit id for a visitor the desk did not number (``V20261124-001``, ...)."""
        return f"V{self.day:%Y%m%d}-{len(self.visitor_ids) + 1:03d}"
