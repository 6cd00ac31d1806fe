"""The visitor register: who each visit was, as the desk recorded it at sign-in.

Only registration details live here (the ID number masked and as a keyed hash, the phone,
host, purpose, the expected stay). Whether a visitor is on site, when they left and
whether an overstay was reported are the day's events (``edge.day.DayLog``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from datetime import date, datetime
from typing import Any

from edge.store.database import Database

SEQ_KEY = "visitor_seq"  # in the state table: "YYYYMMDD:N", the day's last visit number


@dataclass(frozen=True, slots=True)
class VisitRecord:
    id: str
    day: date
    name: str
    id_masked: str
    id_hash: str
    phone: str | None
    host: str
    purpose: str
    minutes: int
    arrived_at: datetime
    due_at: datetime
    in_by: str


_COLUMNS = (
    "id, day, name, id_masked, id_hash, phone, host, purpose, expected_minutes, arrived_at, "
    "due_at, in_by"
)


def _record(row: tuple[Any, ...]) -> VisitRecord:
    vid, day, name, id_masked, id_hash, phone, host, purpose, minutes, arrived, due, in_by = row
    return VisitRecord(
        vid,
        date.fromisoformat(day),
        name,
        id_masked,
        id_hash,
        phone,
        host,
        purpose,
        minutes,
        datetime.fromisoformat(arrived),
        datetime.fromisoformat(due),
        in_by,
    )


def _row(visit: VisitRecord) -> tuple[Any, ...]:
    out = list(astuple(visit))
    out[1] = visit.day.isoformat()
    out[9] = visit.arrived_at.isoformat(timespec="seconds")
    out[10] = visit.due_at.isoformat(timespec="seconds")
    return tuple(out)


class VisitorRegister:
    """The ``visitors`` table: ``store.visitors``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def next_id(self, day: date) -> str:
        """A new visit id for ``day``: ``V20261124-001``, counting on across restarts."""
        stamp = day.strftime("%Y%m%d")
        with self._db.transaction() as db:
            row = db.execute("SELECT value FROM state WHERE key = ?", (SEQ_KEY,)).fetchone()
            last_day, _, last = (row[0] if row else "").partition(":")
            seq = int(last) + 1 if last_day == stamp and last.isdigit() else 1
            db.execute(
                "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
                (SEQ_KEY, f"{stamp}:{seq}"),
            )
        return f"V{stamp}-{seq:03d}"

    def add(self, visit: VisitRecord) -> None:
        marks = ", ".join("?" for _ in fields(VisitRecord))
        with self._db.transaction() as db:
            db.execute(f"INSERT INTO visitors ({_COLUMNS}) VALUES ({marks})", _row(visit))

    def get(self, vid: str) -> VisitRecord | None:
        found = self._select("WHERE id = ?", (vid,))
        return found[0] if found else None

    def of_day(self, day: date) -> list[VisitRecord]:
        return self._select("WHERE day = ? ORDER BY arrived_at, id", (day.isoformat(),))

    def these(self, ids: Iterable[str]) -> list[VisitRecord]:
        """The visits with these ids that are registered, by arrival."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        return self._select(f"WHERE id IN ({marks}) ORDER BY arrived_at, id", tuple(wanted))

    def before(self, day: date, *, delete: bool) -> int:
        """Visits of days before ``day``: how many, deleted when ``delete``."""
        where = "FROM visitors WHERE day < ?"
        with self._db.transaction() as db:
            if not delete:
                return int(db.execute(f"SELECT count(*) {where}", (day.isoformat(),)).fetchone()[0])
            return int(db.execute(f"DELETE {where}", (day.isoformat(),)).rowcount)

    def _select(self, where: str, params: tuple[Any, ...]) -> list[VisitRecord]:
        with self._db.reading() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM visitors {where}", params).fetchall()
        return [_record(r) for r in rows]
