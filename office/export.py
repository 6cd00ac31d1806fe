"""Some days of the office database in one SQLite file, for Datasette or any SQLite tool.

``kindergate report export`` writes it with sqlite-utils: typed columns, primary keys, the
children of each event in their own table (a foreign key to ``events``), indexes on what
the office asks about (a day, a child, a gate, a reason) and full-text search on names.

The file holds no credential (card numbers, QR payloads stay in the office database) and
no phone number. It is built beside its target under a temporary name with mode 0600 and
renamed into place only once complete: a failed export leaves no file, and an earlier
export at that path stays whole until the new one replaces it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.db import Table

from edge.events import Event
from office.reports import RosterInfo, day_bounds
from office.store import CollectorStore, GateRow, Unreadable, utc_text

EVENT_COLUMNS: dict[str, Any] = {
    "id": str,
    "site": str,
    "gate": str,
    "seq": int,
    "ts": str,  # as the gate wrote it, with its UTC offset
    "local_date": str,
    "local_time": str,
    "type": str,
    "reason": str,
    "decision": str,
    "person_id": str,
    "person_kind": str,
    "person_name": str,
    "children": str,  # a JSON array of child ids (also in event_children)
    "reader": str,
    "mode": str,
    "approved_by": str,
    "by": str,
    "detail": str,  # a JSON object
}


class ExportError(ValueError):
    """An export that must not be written (a bad range, the office database itself)."""


@dataclass(frozen=True, slots=True)
class Exported:
    path: Path
    days: int
    events: int
    unreadable: int
    findings: int
    gates: int

    def line(self) -> str:
        extra = f", {self.unreadable} stored rows not events" if self.unreadable else ""
        days = f"{self.days} day" + ("s" if self.days != 1 else "")
        return (
            f"{self.path}: {self.events} events over {days}{extra},"
            f" {self.findings} findings, {self.gates} gates"
        )


def event_record(e: Event, tz: tzinfo) -> dict[str, Any]:
    local = e.ts.astimezone(tz)
    return {
        "id": e.id,
        "site": e.site,
        "gate": e.gate,
        "seq": e.seq,
        "ts": e.json["ts"],
        "local_date": local.date().isoformat(),
        "local_time": local.strftime("%H:%M:%S"),
        "type": str(e.type),
        "reason": str(e.reason),
        "decision": str(e.decision) if e.decision else None,
        "person_id": e.person.id if e.person else None,
        "person_kind": e.person.kind if e.person else None,
        "person_name": e.person.name if e.person else None,
        "children": json.dumps(list(e.children)),
        "reader": e.reader,
        "mode": e.mode,
        "approved_by": e.approved_by,
        "by": e.by,
        "detail": json.dumps(dict(e.detail), ensure_ascii=False),
    }


def gate_record(g: GateRow) -> dict[str, Any]:
    def number(value: Any) -> int | None:
        return value if type(value) is int else None

    return {
        "site": g.site,
        "gate": g.gate,
        "status": g.status,
        "status_at": g.status_at,
        "mode": g.state.get("mode") if isinstance(g.state.get("mode"), str) else None,
        "outbox": number(g.state.get("outbox")),
        "roster_version": number(g.state.get("roster_version")),
        "state": json.dumps(g.state, ensure_ascii=False),
        "last_seen": g.last_seen,
        "last_event_ts": g.last_event_ts,
        "last_seq": g.last_seq,
        "checked_seq": g.checked_seq,
    }


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


FINDING_COLUMNS: dict[str, Any] = {
    "key": str,
    "kind": str,
    "site": str,
    "gate": str,
    "event_id": str,
    "detail": str,  # a JSON object
    "found_at": str,
    "resolved_at": str,
}
GATE_COLUMNS: dict[str, Any] = {
    "site": str,
    "gate": str,
    "status": str,
    "status_at": str,
    "mode": str,
    "outbox": int,
    "roster_version": int,
    "state": str,  # the gate's last retained state, a JSON object
    "last_seen": str,
    "last_event_ts": str,
    "last_seq": int,
    "checked_seq": int,
}


class Writer:
    """The tables of one export file; events are added a day at a time."""

    def __init__(self, db: sqlite_utils.Database, tz: tzinfo) -> None:
        self.db = db
        self.tz = tz
        self.events = Table(db, "events").create(
            EVENT_COLUMNS, pk="id", not_null=["site", "gate", "ts", "type", "reason"]
        )
        self.children = Table(db, "event_children").create(
            {"event_id": str, "child_id": str},
            pk=("event_id", "child_id"),
            foreign_keys=[("event_id", "events", "id")],
        )
        self.unreadable = Table(db, "unreadable").create(
            {"id": str, "site": str, "gate": str, "ts": str, "error": str}, pk="id"
        )
        self.findings = Table(db, "findings").create(
            FINDING_COLUMNS, pk="key", not_null=["kind", "detail", "found_at"]
        )
        self.gates = Table(db, "gates").create(GATE_COLUMNS, pk=("site", "gate"))

    def add_day(self, events: list[Event], unreadable: list[Unreadable]) -> None:
        self.events.insert_all(event_record(e, self.tz) for e in events)
        self.children.insert_all(
            {"event_id": e.id, "child_id": c} for e in events for c in dict.fromkeys(e.children)
        )
        self.unreadable.insert_all(
            {"id": u.id, "site": u.site, "gate": u.gate, "ts": u.ts, "error": u.error}
            for u in unreadable
        )

    def add_findings(self, findings: list[dict[str, Any]]) -> None:
        self.findings.insert_all(
            dict(f, detail=json.dumps(f["detail"], ensure_ascii=False)) for f in findings
        )

    def add_gates(self, gates: list[GateRow]) -> None:
        self.gates.insert_all(gate_record(g) for g in gates)

    def add_roster(self, roster: RosterInfo) -> None:
        """Children's names and classes, to read ``event_children`` with (no phones)."""
        classes = Table(self.db, "classes").create({"class_id": str, "name": str}, pk="class_id")
        classes.insert_all({"class_id": k, "name": v} for k, v in sorted(roster.classes.items()))
        children = Table(self.db, "children").create(
            {"child_id": str, "name": str, "class_id": str},
            pk="child_id",
            foreign_keys=[("class_id", "classes", "class_id")],
        )
        children.insert_all(
            {"child_id": k, "name": name, "class_id": class_id or None}
            for k, (name, class_id) in sorted(roster.children.items())
        )
        children.enable_fts(["name"])

    def finish(self) -> None:
        self.events.create_index(["local_date", "local_time"])
        self.events.create_index(["site", "gate", "seq"])
        self.events.create_index(["type", "reason"])
        self.events.create_index(["person_id"])
        self.children.create_index(["child_id"])
        self.findings.create_index(["kind"])
        self.events.enable_fts(["person_name"])


def export(
    store: CollectorStore,
    out: Path,
    first: date,
    last: date,
    tz: tzinfo,
    *,
    roster: RosterInfo | None = None,
    site: str = "",
    now: datetime,
) -> Exported:
    """Write the local days ``first`` to ``last`` (both included) to ``out``."""
    if last < first:
        raise ExportError(f"--to {last} is before --from {first}")
    if out.is_dir():
        raise ExportError(f"--out {out} is a folder")
    database = store.db.file
    if database is not None and out.exists() and out.samefile(database):
        raise ExportError(f"--out {out} is the office database itself")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    try:
        db = sqlite_utils.Database(str(tmp), execute_plugins=False)
        try:
            # Not the target until renamed: no journal on disk, no syncs on the way.
            db.execute("PRAGMA journal_mode=MEMORY")
            db.execute("PRAGMA synchronous=OFF")
            counts = _fill(Writer(db, tz), store, first, last, roster)
            Table(db, "export").insert(
                {
                    "site": site,
                    "timezone": str(tz),
                    "first_day": first.isoformat(),
                    "last_day": last.isoformat(),
                    "written_at": utc_text(now),
                    "events": counts[1],
                    "unreadable": counts[2],
                }
            )
        finally:
            db.close()
        _fsync(tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(out.parent, directory=True)
    return Exported(out, *counts)


def _fill(
    writer: Writer, store: CollectorStore, first: date, last: date, roster: RosterInfo | None
) -> tuple[int, int, int, int, int]:
    """(days, events, unreadable rows, findings, gates) written."""
    tz = writer.tz
    n_days = n_events = n_bad = 0
    for day in days(first, last):
        start, end = day_bounds(day, tz)
        stored = store.read_events(start, end)
        writer.add_day(stored.events, stored.unreadable)
        n_days, n_events = n_days + 1, n_events + len(stored.events)
        n_bad += len(stored.unreadable)
    lo, hi = utc_text(day_bounds(first, tz)[0]), utc_text(day_bounds(last, tz)[1])
    findings = [f for f in store.findings() if f["resolved_at"] is None or lo <= f["found_at"] < hi]
    writer.add_findings(findings)
    gates = store.gate_rows()
    writer.add_gates(gates)
    if roster is not None:
        writer.add_roster(roster)
    writer.finish()
    return n_days, n_events, n_bad, len(findings), len(gates)


def _fsync(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
