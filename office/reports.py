"""The office's reports for one local day: pure functions of the day's events.

Each report takes the events (``Event``s, any order), the date and the site's time zone,
plus what the events cannot say: the roster (children's names and classes, guardians'
names and phones, masked here) and, for the live ones, the time now. Reasons are compared
as ``Reason`` members and groups from ``edge.events``. What an event's ``detail`` holds is
only JSON: it is read with a type check (``detail_text``, ``detail_int``), so an odd value
shows as empty instead of failing the report. ``office.report_build`` has the gates and
day reports, fetches what they need from the store and renders them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from edge.events import (
    ALARM_MODES,
    COLLECTING,
    DOOR_ALARMS,
    Decision,
    Event,
    EventType,
    Reason,
)
from edge.guard import mask_phone


@dataclass(frozen=True)
class Report:
    kind: str
    title: str
    day: date
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what the office should know: stored rows skipped


@dataclass(frozen=True)
class RosterInfo:
    """What the office knows from the roster folder; phones are kept masked only."""

    children: dict[str, tuple[str, str]]  # child id -> (name, class id)
    classes: dict[str, str]  # class id -> name
    guardians: dict[str, list[tuple[str, str]]]  # child id -> [(name, masked phone)]

    def child_name(self, child_id: str) -> str:
        return self.children.get(child_id, ("", ""))[0]

    def class_of(self, child_id: str) -> str:
        return self.children.get(child_id, ("", ""))[1]


def roster_info(path: Path) -> RosterInfo | None:
    """The roster at ``path`` if it loads; the reports work (with ids) without it."""
    from edge.roster import RosterError
    from edge.roster_load import load_roster

    try:
        roster = load_roster(path)
    except (RosterError, OSError):
        return None
    guardians: dict[str, list[tuple[str, str]]] = {}
    for g in roster.guardians.values():
        for child in g.children:
            guardians.setdefault(child, []).append((g.name, mask_phone(g.phone)))
    return RosterInfo(
        children={c.child_id: (c.name, c.class_id) for c in roster.children.values()},
        classes={k: c.name for k, c in roster.classes.items()},
        guardians=guardians,
    )


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tz)


def clock(ts: datetime | None, tz: tzinfo) -> str:
    return ts.astimezone(tz).strftime("%H:%M:%S") if ts else ""


def local_hhmm(iso: str, tz: tzinfo) -> str:
    """An ISO time from an event as local HH:MM (as given when it is not one)."""
    try:
        return datetime.fromisoformat(iso).astimezone(tz).strftime("%H:%M")
    except (ValueError, OverflowError):
        return iso


def who(event: Event) -> str:
    person = event.person
    return (person.name or person.id) if person else ""


def detail_text(event: Event, key: str) -> str:
    """A text or number from the event's ``detail`` ("" when absent or anything else)."""
    value = event.detail.get(key)
    if isinstance(value, str):
        return value
    return str(value) if type(value) in (int, float) else ""


def detail_int(event: Event, key: str) -> int | None:
    value = event.detail.get(key)
    return value if type(value) is int else None


def of_day(events: Iterable[Event], day: date, tz: tzinfo) -> list[Event]:
    start, end = day_bounds(day, tz)
    return sorted((e for e in events if start <= e.ts < end), key=lambda e: (e.ts, e.id))


def granted(event: Event) -> bool:
    """An access decision that opened the gate."""
    return event.type is EventType.ACCESS and event.granted


# --- pickups ------------------------------------------------------------------------------


def child_days(events: Sequence[Event]) -> dict[str, dict[str, Any]]:
    """Per child: the first drop-off and the first collection of the day, and late flags."""
    out: dict[str, dict[str, Any]] = {}
    for e in events:
        for child in e.children:
            rec = out.setdefault(child, {"in": None, "out": None, "late": None})
            if granted(e) and e.reason is Reason.DROPOFF and rec["in"] is None:
                rec["in"] = e
            elif granted(e) and e.reason in COLLECTING and rec["out"] is None:
                rec["out"] = e
            elif e.type is EventType.LATE_PICKUP and rec["late"] is None:
                rec["late"] = e
    return {k: v for k, v in out.items() if v["in"] or v["out"] or v["late"]}


def pickups(
    events: Sequence[Event], day: date, tz: tzinfo, roster: RosterInfo | None = None
) -> Report:
    days = child_days(of_day(events, day, tz))
    rows = []
    for child, rec in sorted(days.items()):
        drop, out = rec["in"], rec["out"]
        approved = out.approved_by if out else None
        rows.append(
            {
                "child": child,
                "name": roster.child_name(child) if roster else "",
                "class": roster.class_of(child) if roster else "",
                "dropped_off": clock(drop.ts, tz) if drop else "",
                "dropped_off_by": who(drop) if drop else "",
                "collected": clock(out.ts, tz) if out else "",
                "collected_by": who(out) if out else "",
                "approval": f"early, approved by {approved}" if approved else "",
                "late": "yes" if rec["late"] else "",
            }
        )
    summary = {
        "children": len(rows),
        "dropped_off": sum(1 for r in rows if r["dropped_off"]),
        "collected": sum(1 for r in rows if r["collected"]),
        "not_collected": sum(1 for r in rows if r["dropped_off"] and not r["collected"]),
        "early_approved": sum(1 for r in rows if r["approval"]),
        "late": sum(1 for r in rows if r["late"]),
    }
    return Report("pickups", "Drop-offs and pickups", day, PICKUP_COLUMNS, rows, summary)


PICKUP_COLUMNS = (
    "child",
    "name",
    "class",
    "dropped_off",
    "dropped_off_by",
    "collected",
    "collected_by",
    "approval",
    "late",
)


# --- late pickups ---------------------------------------------------------------------------


def late(
    events: Sequence[Event], day: date, tz: tzinfo, roster: RosterInfo | None = None
) -> Report:
    todays = of_day(events, day, tz)
    days = child_days(todays)
    rows = []
    for e in todays:
        if e.type is not EventType.LATE_PICKUP:
            continue
        for child in e.children:
            out = days.get(child, {}).get("out")
            guardians = roster.guardians.get(child, []) if roster else []
            rows.append(
                {
                    "child": child,
                    "name": who(e) or (roster.child_name(child) if roster else ""),
                    "class": detail_text(e, "class_id"),
                    "due": local_hhmm(detail_text(e, "due"), tz),
                    "reported": clock(e.ts, tz),
                    "collected": clock(out.ts, tz) if out else "",
                    "collected_by": who(out) if out else "",
                    "guardians": "; ".join(f"{n} {p}" for n, p in guardians)
                    if roster
                    else "(no roster)",
                }
            )
    summary = {
        "late": len(rows),
        "still_waiting": sum(1 for r in rows if not r["collected"]),
    }
    return Report("late", "Late pickups", day, LATE_COLUMNS, rows, summary)


LATE_COLUMNS = (
    "child",
    "name",
    "class",
    "due",
    "reported",
    "collected",
    "collected_by",
    "guardians",
)


# --- visitors -------------------------------------------------------------------------------


def visitors(
    events: Sequence[Event], day: date, tz: tzinfo, now: datetime, overstay_minutes: int = 120
) -> Report:
    """Visitors by (gate, visitor id): in, out, time on site, overstays, refusals."""
    visits: dict[tuple[str, str], dict[str, Any]] = {}
    for e in of_day(events, day, tz):
        if e.type is not EventType.VISITOR:
            continue
        key = (e.gate, e.person.id if e.person else "")
        rec = visits.setdefault(key, {"in": None, "out": None, "overstay": False, "refused": None})
        if e.reason is Reason.VISITOR_IN:
            rec["in"] = e
        elif e.reason is Reason.VISITOR_OUT:
            rec["out"] = e
        elif e.reason is Reason.VISITOR_OVERSTAY:
            rec["overstay"] = True
        elif e.decision is Decision.DENIED:
            rec["refused"] = e
    end_of_day = day_bounds(day, tz)[1]
    rows = [
        visitor_row(key, rec, tz, min(now, end_of_day), overstay_minutes)
        for key, rec in visits.items()
    ]
    rows.sort(key=lambda r: (r["in"] or "99", r["gate"], r["visitor"]))
    summary = {
        "visitors": sum(1 for r in rows if r["status"] != "refused"),
        "on_site": sum(1 for r in rows if r["status"] == "on site"),
        "overstays": sum(1 for r in rows if r["overstay"]),
        "refused": sum(1 for r in rows if r["status"] == "refused"),
    }
    return Report("visitors", "Visitors", day, VISITOR_COLUMNS, rows, summary)


VISITOR_COLUMNS = (
    "visitor",
    "name",
    "gate",
    "host",
    "purpose",
    "in",
    "out",
    "minutes",
    "status",
    "overstay",
)


def visitor_row(
    key: tuple[str, str], rec: dict[str, Any], tz: tzinfo, now: datetime, overstay_minutes: int
) -> dict[str, Any]:
    first: Event | None = rec["in"] or rec["refused"] or rec["out"]
    start = rec["in"].ts if rec["in"] else None
    end = rec["out"].ts if rec["out"] else None
    minutes = int(((end or now) - start).total_seconds() // 60) if start else None
    allowed = (detail_int(first, "expected_minutes") if first else None) or overstay_minutes
    status = "refused" if rec["refused"] and not start else ("left" if end else "on site")
    return {
        "visitor": key[1],
        "name": who(first) if first else "",
        "gate": key[0],
        "host": detail_text(first, "host") if first else "",
        "purpose": detail_text(first, "purpose") if first else "",
        "in": clock(start, tz),
        "out": clock(end, tz),
        "minutes": minutes if minutes is not None else "",
        "status": status,
        "overstay": "yes" if rec["overstay"] or (minutes is not None and minutes > allowed) else "",
    }


# --- alarms -----------------------------------------------------------------------------------


def is_alarm(e: Event) -> bool:
    return (
        e.type is EventType.ALARM
        or (e.type is EventType.DOOR and e.reason in DOOR_ALARMS)
        or (e.type is EventType.MODE and e.reason in ALARM_MODES)
    )


def alarms(events: Sequence[Event], day: date, tz: tzinfo) -> Report:
    rows = [
        {
            "time": clock(e.ts, tz),
            "gate": e.gate,
            "type": str(e.type),
            "reason": str(e.reason),
            "who": who(e) or e.by or "",
            "children": ", ".join(e.children),
        }
        for e in of_day(events, day, tz)
        if is_alarm(e)
    ]
    by_reason: dict[str, int] = {}
    for r in rows:
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
    return Report("alarms", "Alarms", day, ALARM_COLUMNS, rows, {"alarms": len(rows), **by_reason})


ALARM_COLUMNS = ("time", "gate", "type", "reason", "who", "children")
