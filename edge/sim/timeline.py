"""Events told as a readable timeline, for people at a terminal (`kindergate demo`)."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

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
QUIET_DOOR = {"opened", "closed"}  # an ordinary passage; the access event says it all


class Painter:
    def __init__(self, stream: TextIO) -> None:
        self.on = stream.isatty() and "NO_COLOR" not in os.environ

    def __call__(self, text: str, colour: str) -> str:
        return f"\033[{COLOURS[colour]}m{text}\033[0m" if self.on else text


def describe(event: dict[str, Any], roster: Roster) -> tuple[str, str, str] | None:
    """(mark-colour, headline, who) for one event, or None for one not worth a line."""
    kind, reason = event["type"], event["reason"]
    person = event.get("person") or {}
    who = f"{person.get('name') or person.get('id')} ({person.get('kind')})" if person else ""
    kids = _children(event.get("children", []), roster)
    if kind == "access":
        decision = event.get("decision", "")
        extra = f" approved by {event['approved_by']}" if event.get("approved_by") else ""
        return (
            decision,
            f"{MARKS.get(decision, ' ')} {decision:<14} {reason:<18}",
            f"{who}{' → ' + kids if kids else ''}{extra}",
        )
    if kind == "door":
        if reason in QUIET_DOOR:
            return None
        return "alarm", f"! door           {reason:<18}", ""
    if kind == "late_pickup":
        return "alarm", f"! late pickup    {event['detail']['class_id']:<18}", kids
    if kind == "alarm":
        return "alarm", f"! alarm          {reason:<18}", f"{who}{' → ' + kids if kids else ''}"
    if kind in ("mode", "override"):
        return "bold", f"» {kind:<14} {reason:<18}", f"by {event.get('by', '?')}"
    if kind == "visitor":
        return (
            "bold",
            f"» visitor        {reason:<18}",
            f"{who}, host {event.get('detail', {}).get('host', '?')}"
            if reason == "visitor_in"
            else who,
        )
    return "dim", f"· {kind:<14} {reason:<18}", str(event.get("detail", ""))


def _children(ids: list[str], roster: Roster) -> str:
    names = []
    for cid in ids:
        child = roster.children.get(cid)
        if child is not None:
            names.append(f"{child.name} ({roster.classes[child.class_id].name})")
    return ", ".join(names)


def print_timeline(
    events: list[dict[str, Any]],
    roster: Roster,
    *,
    stream: TextIO = sys.stdout,
    morning_until: str = "09:00",
) -> None:
    paint = Painter(stream)
    morning = [e for e in events if e["ts"][11:16] < morning_until and e["type"] == "access"]
    if morning:
        counts: dict[str, int] = {}
        for e in morning:
            counts[e["reason"]] = counts.get(e["reason"], 0) + 1
        kids = {c for e in morning if e["reason"] == "dropoff" for c in e["children"]}
        first, last = morning[0]["ts"][11:16], morning[-1]["ts"][11:16]
        text = ", ".join(f"{n} {r}" for r, n in sorted(counts.items()))
        print(
            paint(f"{first}–{last}  morning: {len(kids)} children dropped off ({text})", "bold"),
            file=stream,
        )
    for event in events:
        if event["ts"][11:16] < morning_until and event["type"] == "access":
            continue
        described = describe(event, roster)
        if described is None:
            continue
        colour, headline, who = described
        print(f"{event['ts'][11:19]}  {paint(headline, colour)} {who}".rstrip(), file=stream)


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
