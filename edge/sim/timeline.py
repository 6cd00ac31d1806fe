"""Events told as a readable timeline, for people at a terminal (`kindergate demo`)."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from edge.events import DOOR_PASSAGE, Event, EventType, Reason
from edge.roster import Roster

COLOURS = {
    "granted": "32",
    "denied": "31",
    "needs_approval": "33",
    "alarm": "1;35",
    "dim": "2",
    "bold": "1",
}
MARKS = {"granted": "✔", "denied": "✘", "needs_approval": "?"}


class Painter:
    def __init__(self, stream: TextIO) -> None:
        self.on = stream.isatty() and "NO_COLOR" not in os.environ

    def __call__(self, text: str, colour: str) -> str:
        return f"\033[{COLOURS[colour]}m{text}\033[0m" if self.on else text


def describe(event: Event, roster: Roster) -> tuple[str, str, str] | None:
    """(mark-colour, headline, who) for one event, or None for one not worth a line."""
    kind, reason = event.type, str(event.reason)
    person = event.person
    who = f"{person.name or person.id} ({person.kind})" if person else ""
    kids = _children(event.children, roster)
    if kind is EventType.ACCESS:
        decision = str(event.decision or "")
        extra = f" approved by {event.approved_by}" if event.approved_by else ""
        return (
            decision,
            f"{MARKS.get(decision, ' ')} {decision:<14} {reason:<18}",
            f"{who}{' → ' + kids if kids else ''}{extra}",
        )
    if kind is EventType.DOOR:
        if event.reason in DOOR_PASSAGE:
            return None  # an ordinary passage; the access event says it all
        return "alarm", f"! door           {reason:<18}", ""
    if kind is EventType.LATE_PICKUP:
        return "alarm", f"! late pickup    {event.detail.get('class_id', '?'):<18}", kids
    if kind is EventType.ALARM:
        return "alarm", f"! alarm          {reason:<18}", f"{who}{' → ' + kids if kids else ''}"
    if kind in (EventType.MODE, EventType.OVERRIDE):
        return "bold", f"» {kind:<14} {reason:<18}", f"by {event.by or '?'}"
    if kind is EventType.VISITOR:
        host = event.detail.get("host", "?")
        return (
            "bold",
            f"» visitor        {reason:<18}",
            f"{who}, host {host}" if event.reason is Reason.VISITOR_IN else who,
        )
    return "dim", f"· {kind:<14} {reason:<18}", str(dict(event.detail) or "")


def _children(ids: tuple[str, ...], roster: Roster) -> str:
    names = []
    for cid in ids:
        child = roster.children.get(cid)
        if child is not None:
            names.append(f"{child.name} ({roster.classes[child.class_id].name})")
    return ", ".join(names)


def print_timeline(
    events: list[Event],
    roster: Roster,
    *,
    stream: TextIO = sys.stdout,
    morning_until: str = "09:00",
) -> None:
    paint = Painter(stream)
    morning = [e for e in events if _hhmm(e) < morning_until and e.type is EventType.ACCESS]
    if morning:
        counts: dict[str, int] = {}
        for e in morning:
            counts[str(e.reason)] = counts.get(str(e.reason), 0) + 1
        kids = {c for e in morning if e.reason is Reason.DROPOFF for c in e.children}
        first, last = _hhmm(morning[0]), _hhmm(morning[-1])
        text = ", ".join(f"{n} {r}" for r, n in sorted(counts.items()))
        print(
            paint(f"{first}–{last}  morning: {len(kids)} children dropped off ({text})", "bold"),
            file=stream,
        )
    for event in events:
        if _hhmm(event) < morning_until and event.type is EventType.ACCESS:
            continue
        described = describe(event, roster)
        if described is None:
            continue
        colour, headline, who = described
        clock = event.ts.strftime("%H:%M:%S")
        print(f"{clock}  {paint(headline, colour)} {who}".rstrip(), file=stream)


def _hhmm(event: Event) -> str:
    """The event's local time as it was written (the gate's clock is in the site's zone)."""
    return event.ts.strftime("%H:%M")


def print_summary(facts: dict[str, Any], roster: Roster, *, stream: TextIO = sys.stdout) -> None:
    paint = Painter(stream)
    print(file=stream)
    print(paint("Summary of the day", "bold"), file=stream)
    print("  collected per class (collected / dropped off here):", file=stream)
    channels = {w.name: w.channel for w in roster.classes.values()}
    for name, (done, total) in facts["per_class"].items():
        note = f"  (uses the {channels[name]} channel)" if channels.get(name) and not total else ""
        print(f"    {name:<12} {done:>3} / {total:<3}{note}".rstrip(), file=stream)
    inside = [
        f"{roster.children[c].name} ({roster.classes[roster.children[c].class_id].name})"
        for c in facts["still_inside"]
    ]
    print(f"  still inside: {len(inside)}{': ' + ', '.join(inside) if inside else ''}", file=stream)
    late = [roster.children[c].name for c in facts["late"]]
    print(f"  late pickups: {len(late)}{': ' + ', '.join(late) if late else ''}", file=stream)
    alarms = ", ".join(f"{n} {r}" for r, n in sorted(facts["alarms"].items())) or "none"
    print(f"  alarms: {paint(alarms, 'alarm') if facts['alarms'] else alarms}", file=stream)
    decisions = ", ".join(f"{n} {d}" for d, n in sorted(facts["decisions"].items()))
    print(f"  access decisions: {decisions}", file=stream)
