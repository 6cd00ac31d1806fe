"""The office database: SQLite by default, PostgreSQL when the config gives a URL.

One schema and one set of SQL statements for both engines (see ``office.db`` for the
two small connection classes). Every write is idempotent: an event id already stored and
a finding key already recorded are skipped, so a redelivered message changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edge.events import Event, EventError
from office.db import Database, Row, connect

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        id TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        gate TEXT NOT NULL,
        seq BIGINT,
        ts TEXT NOT NULL,
        ts_ms BIGINT NOT NULL,
        type TEXT NOT NULL,
        reason TEXT,
        hash TEXT,
        prev_hash TEXT,
        body TEXT NOT NULL,
        received_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS events_gate_seq ON events (site, gate, seq)",
    "CREATE INDEX IF NOT EXISTS events_ts ON events (ts_ms)",
    """CREATE TABLE IF NOT EXISTS gates (
        site TEXT NOT NULL,
        gate TEXT NOT NULL,
        status TEXT,
        status_at TEXT,
        state TEXT,
        state_at TEXT,
        last_seen TEXT,
        last_event_ts TEXT,
        last_seq BIGINT,
        checked_seq BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (site, gate))""",
    """CREATE TABLE IF NOT EXISTS findings (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        site TEXT,
        gate TEXT,
        event_id TEXT,
        detail TEXT NOT NULL,
        found_at TEXT NOT NULL,
        resolved_at TEXT)""",
    "CREATE INDEX IF NOT EXISTS findings_gate ON findings (site, gate, kind)",
)

INSERT_EVENT = (
    "INSERT INTO events (id, site, gate, seq, ts, ts_ms, type, reason, hash, prev_hash,"
    " body, received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING"
)
INSERT_FINDING = (
    "INSERT INTO findings (key, kind, site, gate, event_id, detail, found_at)"
    " VALUES (?,?,?,?,?,?,?) ON CONFLICT (key) DO NOTHING"
)


def _later(column: str) -> str:
    """Keep the later of the stored and the new value (NULL-safe, portable)."""
    return (
        f"{column} = CASE WHEN gates.{column} IS NULL OR excluded.{column} > gates.{column}"
        f" THEN excluded.{column} ELSE gates.{column} END"
    )


TOUCH_GATE = (
    "INSERT INTO gates (site, gate, last_seen, last_event_ts, last_seq) VALUES (?,?,?,?,?)"
    " ON CONFLICT (site, gate) DO UPDATE SET "
    + ", ".join(_later(c) for c in ("last_seen", "last_event_ts", "last_seq"))
)
SET_STATUS = (
    "INSERT INTO gates (site, gate, status, status_at, last_seen) VALUES (?,?,?,?,?)"
    " ON CONFLICT (site, gate) DO UPDATE SET status = excluded.status,"
    " status_at = excluded.status_at, " + _later("last_seen")
)
SET_STATE = (
    "INSERT INTO gates (site, gate, state, state_at, last_seen) VALUES (?,?,?,?,?)"
    " ON CONFLICT (site, gate) DO UPDATE SET state = excluded.state,"
    " state_at = excluded.state_at, " + _later("last_seen")
)
GATE_COLUMNS = (
    "site, gate, status, status_at, state, state_at, last_seen, last_event_ts, last_seq,"
    " checked_seq"
)


def utc_text(when: datetime) -> str:
    """A UTC time as fixed-width text, so that text order is time order in both engines."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_ms(when: datetime) -> int:
    """An event's time as stored for ordering and day ranges: Unix milliseconds."""
    return int(when.timestamp() * 1000)


def from_utc_text(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Finding:
    """Something the collector noticed: a gap, a broken chain, a malformed payload."""

    key: str  # deterministic, so that a redelivery records nothing twice
    kind: str
    site: str | None
    gate: str | None
    detail: dict[str, Any]
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A stored row that is not an event: what the office is told instead of a crash."""

    id: str
    site: str
    gate: str
    ts: str
    error: str

    def note(self) -> str:
        return f"stored event {self.id} ({self.site}/{self.gate}, {self.ts}) skipped: {self.error}"


@dataclass(frozen=True, slots=True)
class StoredEvents:
    events: list[Event]
    unreadable: list[Unreadable]


@dataclass(frozen=True, slots=True)
class GateRow:
    site: str
    gate: str
    status: str | None
    status_at: str | None
    state: dict[str, Any]
    state_at: str | None
    last_seen: str | None
    last_event_ts: str | None
    last_seq: int | None
    checked_seq: int

    @classmethod
    def from_row(cls, row: Row) -> GateRow:
        try:
            state = json.loads(row[4]) if row[4] else {}
        except ValueError:
            state = {}
        return cls(
            row[0],
            row[1],
            row[2],
            row[3],
            state if isinstance(state, dict) else {},
            row[5],
            row[6],
            row[7],
            row[8],
            int(row[9] or 0),
        )


class CollectorStore:
    """Every gate's events, the gates' last known state and the findings, in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.create_schema(SCHEMA)

    @property
    def engine(self) -> str:
        return self.db.engine

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> AbstractContextManager[Database]:
        return self.db.transaction()

    # --- writes (call inside a transaction) -------------------------------------------

    def insert_events(self, rows: Sequence[Row]) -> None:
        """Rows in INSERT_EVENT's column order; a known id is skipped, not an error."""
        if rows:
            self.db.executemany(INSERT_EVENT, rows)

    def add_findings(self, findings: Sequence[Finding], now: datetime) -> None:
        if not findings:
            return
        at = utc_text(now)
        self.db.executemany(
            INSERT_FINDING,
            [
                (f.key, f.kind, f.site, f.gate, f.event_id, json.dumps(f.detail), at)
                for f in findings
            ],
        )

    def touch_gates(self, rows: Sequence[tuple[str, str, str, str | None, int | None]]) -> None:
        """(site, gate, last_seen, last_event_ts, last_seq), sorted to keep lock order stable."""
        if rows:
            self.db.executemany(TOUCH_GATE, sorted(rows, key=lambda r: (r[0], r[1])))

    def set_status(self, site: str, gate: str, status: str, now: datetime) -> None:
        at = utc_text(now)
        self.db.execute(SET_STATUS, (site, gate, status, at, at))

    def set_state(self, site: str, gate: str, state: str, now: datetime) -> None:
        at = utc_text(now)
        self.db.execute(SET_STATE, (site, gate, state, at, at))

    def set_checked_seq(self, site: str, gate: str, seq: int) -> None:
        self.db.execute(
            "UPDATE gates SET checked_seq = ? WHERE site = ? AND gate = ? AND checked_seq < ?",
            (seq, site, gate, seq),
        )

    def resolve_finding(self, key: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE findings SET resolved_at = ? WHERE key = ? AND resolved_at IS NULL",
            (utc_text(now), key),
        )

    # --- reads --------------------------------------------------------------------------

    def chain_rows(self, site: str, gate: str, lo: int, hi: int) -> list[Row]:
        """(seq, id, hash, prev_hash) for seq in [lo, hi], in seq order."""
        return self.db.query(
            "SELECT seq, id, hash, prev_hash FROM events"
            " WHERE site = ? AND gate = ? AND seq >= ? AND seq <= ? ORDER BY seq, id",
            (site, gate, lo, hi),
        )

    def seqs(self, site: str, gate: str) -> list[int]:
        """Every seq stored for a gate, ascending, each once."""
        rows = self.db.query(
            "SELECT DISTINCT seq FROM events WHERE site = ? AND gate = ? AND seq IS NOT NULL"
            " ORDER BY seq",
            (site, gate),
        )
        return [int(r[0]) for r in rows]

    def open_findings(self, kind: str, site: str, gate: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self.db.query(
            "SELECT key, detail FROM findings WHERE kind = ? AND site = ? AND gate = ?"
            " AND resolved_at IS NULL",
            (kind, site, gate),
        )
        return [(key, json.loads(detail)) for key, detail in rows]

    def count_seqs(self, site: str, gate: str, lo: int, hi: int) -> int:
        rows = self.db.query(
            "SELECT count(DISTINCT seq) FROM events WHERE site = ? AND gate = ?"
            " AND seq >= ? AND seq <= ?",
            (site, gate, lo, hi),
        )
        return int(rows[0][0])

    def gate_rows(self) -> list[GateRow]:
        rows = self.db.query(f"SELECT {GATE_COLUMNS} FROM gates ORDER BY site, gate")
        return [GateRow.from_row(r) for r in rows]

    def gate_row(self, site: str, gate: str) -> GateRow | None:
        rows = self.db.query(
            f"SELECT {GATE_COLUMNS} FROM gates WHERE site = ? AND gate = ?", (site, gate)
        )
        return GateRow.from_row(rows[0]) if rows else None

    def read_events(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> StoredEvents:
        """Stored events with since <= ts < until, oldest first (by time, then id).

        A row that cannot be read as an ``Event`` (stored by an older collector, or
        altered in the database) is set aside as ``Unreadable``, never raised.
        """
        lo = epoch_ms(since) if since else -(2**62)
        hi = epoch_ms(until) if until else 2**62
        rows = self.db.query(
            "SELECT id, site, gate, ts, body FROM events WHERE ts_ms >= ? AND ts_ms < ?"
            " ORDER BY ts_ms, id",
            (lo, hi),
        )
        out = StoredEvents([], [])
        for eid, site, gate, ts, body in rows:
            try:
                out.events.append(Event.loads(body))
            except EventError as err:
                out.unreadable.append(Unreadable(eid, site, gate, ts, str(err)))
        return out

    def event_ids(self) -> list[str]:
        return [r[0] for r in self.db.query("SELECT id FROM events ORDER BY id")]

    def count_events(self) -> int:
        return int(self.db.query("SELECT count(*) FROM events")[0][0])

    def findings(self, kind: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT key, kind, site, gate, event_id, detail, found_at, resolved_at FROM findings"
        rows = (
            self.db.query(sql + " WHERE kind = ? ORDER BY found_at, key", (kind,))
            if kind
            else self.db.query(sql + " ORDER BY found_at, key")
        )
        names = ("key", "kind", "site", "gate", "event_id", "detail", "found_at", "resolved_at")
        out = []
        for row in rows:
            item = dict(zip(names, row, strict=True))
            item["detail"] = json.loads(item["detail"])
            out.append(item)
        return out


def open_store(database: str) -> CollectorStore:
    return CollectorStore(connect(database))
