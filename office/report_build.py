"""The gates and day reports, building any report from the store, and rendering.

``kindergate report KIND`` and the office page both come through ``build_report``. A
stored row that is not an event is left out of every report and named in its ``notes``:
one bad row never takes a report (or the page) down.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from edge.events import Decision, Event, EventType
from office.reports import (
    Report,
    RosterInfo,
    alarms,
    clock,
    day_bounds,
    late,
    of_day,
    pickups,
    visitors,
)
from office.store import CollectorStore, GateRow, from_utc_text

KINDS = ("pickups", "late", "visitors", "alarms", "gates", "day")


# --- gates ------------------------------------------------------------------------------------


def gates(
    rows: Sequence[GateRow],
    events: Sequence[Event],
    day: date,
    tz: tzinfo,
    now: datetime,
    offline_after: timedelta,
    open_findings: Sequence[dict[str, Any]] = (),
) -> Report:
    checks: dict[tuple[str, str], Event] = {}
    for e in of_day(events, day, tz):
        if e.type is EventType.CHECK:
            checks[(e.site, e.gate)] = e  # the day's last check counts
    out = [
        gate_row(g, checks.get((g.site, g.gate)), tz, now, offline_after, open_findings)
        for g in rows
    ]
    summary = {
        "gates": len(out),
        "online": sum(1 for r in out if r["online"] == "yes"),
        "checks_done": sum(1 for r in out if r["device_check"].startswith("done")),
        "checks_missing": sum(1 for r in out if r["device_check"] == "missing"),
        "open_findings": sum(int(r["findings"] or 0) for r in out),
    }
    return Report("gates", "Gates", day, GATE_COLUMNS, out, summary)


GATE_COLUMNS = (
    "site",
    "gate",
    "online",
    "status",
    "last_seen",
    "outbox",
    "roster_version",
    "mode",
    "device_check",
    "findings",
)


def gate_row(
    g: GateRow,
    check: Event | None,
    tz: tzinfo,
    now: datetime,
    offline_after: timedelta,
    findings: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    seen = from_utc_text(g.last_seen) if g.last_seen else None
    quiet = seen is None or now - seen > offline_after
    online = g.status == "online" or (g.status is None and not quiet)
    if check is None:
        checked = "missing"
    else:
        failed = check.detail.get("ok") is False
        checked = f"done {clock(check.ts, tz)}" + (" (failures)" if failed else "")
    mine = [f for f in findings if (f.get("site"), f.get("gate")) == (g.site, g.gate)]
    return {
        "site": g.site,
        "gate": g.gate,
        "online": "yes" if online else "no",
        "status": g.status or "unknown",
        "last_seen": seen.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if seen else "",
        "outbox": g.state.get("outbox", ""),
        "roster_version": g.state.get("roster_version", ""),
        "mode": g.state.get("mode", ""),
        "device_check": checked,
        "findings": len(mine) or "",
    }


# --- the day on one page --------------------------------------------------------------------


def day_summary(
    parts: dict[str, Report], events: Sequence[Event], day: date, tz: tzinfo, unreadable: int = 0
) -> Report:
    todays = of_day(events, day, tz)
    denied: dict[str, int] = {}
    for e in todays:
        if e.type is EventType.ACCESS and e.decision is Decision.DENIED:
            denied[str(e.reason)] = denied.get(str(e.reason), 0) + 1
    rows: list[dict[str, Any]] = [
        {"section": "events", "figure": "total", "value": len(todays)},
        {"section": "events", "figure": "unreadable", "value": unreadable},
    ]
    for name, part in parts.items():
        rows += [{"section": name, "figure": k, "value": v} for k, v in part.summary.items()]
    rows += [{"section": "denied", "figure": k, "value": v} for k, v in sorted(denied.items())]
    summary = {f"{r['section']}.{r['figure']}": r["value"] for r in rows}
    return Report("day", "The day", day, ("section", "figure", "value"), rows, summary)


# --- from the store ---------------------------------------------------------------------------


def build_report(
    kind: str,
    store: CollectorStore,
    day: date,
    tz: tzinfo,
    *,
    roster: RosterInfo | None,
    overstay_minutes: int = 120,
    offline_after_seconds: int = 120,
    now: datetime | None = None,
) -> Report:
    now = now or datetime.now(UTC)
    start, end = day_bounds(day, tz)
    stored = store.read_events(start, end)
    events = stored.events
    notes = tuple(u.note() for u in stored.unreadable)
    open_findings = [f for f in store.findings() if f["resolved_at"] is None]
    makers: dict[str, Callable[[], Report]] = {
        "pickups": lambda: pickups(events, day, tz, roster),
        "late": lambda: late(events, day, tz, roster),
        "visitors": lambda: visitors(events, day, tz, now, overstay_minutes),
        "alarms": lambda: alarms(events, day, tz),
        "gates": lambda: gates(
            store.gate_rows(),
            events,
            day,
            tz,
            now,
            timedelta(seconds=offline_after_seconds),
            open_findings,
        ),
    }
    if kind == "day":
        parts = {k: make() for k, make in makers.items()}
        result = day_summary(parts, events, day, tz, len(stored.unreadable))
    elif kind in makers:
        result = makers[kind]()
    else:
        raise ValueError(f"unknown report {kind!r}; one of {', '.join([*makers, 'day'])}")
    return replace(result, notes=notes)


# --- output -----------------------------------------------------------------------------------


def render(report: Report, fmt: str = "table") -> str:
    if fmt == "json":
        body = {
            "report": report.kind,
            "date": report.day.isoformat(),
            "columns": list(report.columns),
            "rows": report.rows,
            "summary": report.summary,
            "notes": list(report.notes),
        }
        return json.dumps(body, ensure_ascii=False, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=report.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(report.rows)
        return buf.getvalue()
    if fmt == "table":
        return table(report)
    raise ValueError(f"unknown format {fmt!r}")


def table(report: Report) -> str:
    cells = [list(report.columns)] + [
        [str(r.get(c, "")) for c in report.columns] for r in report.rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(report.columns))]
    lines = [f"{report.title}, {report.day.isoformat()}", ""]
    for n, row in enumerate(cells):
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not report.rows:
        lines.append("(none)")
    if report.summary and report.kind != "day":
        lines += ["", ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in report.summary.items())]
    if report.notes:
        lines += ["", *(f"note: {n}" for n in report.notes)]
    return "\n".join(lines) + "\n"
