"""The repair log: a problem reported with a device, until someone marks it fixed.

The daily device check needs no table: it is a ``check`` event.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.store.database import Database


@dataclass(frozen=True, slots=True)
class Repair:
    id: int
    device: str
    problem: str
    photo: str | None
    opened_at: str
    opened_by: str
    closed_at: str | None
    closed_by: str | None
    fix: str | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class RepairTable:
    """The ``repairs`` table: ``store.repairs``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all(self, limit: int = 200) -> list[Repair]:
        """Open entries first, then the rest; newest first within each."""
        with self._db.reading() as db:
            rows = db.execute(
                "SELECT id, device, problem, photo, opened_at, opened_by, closed_at, closed_by, "
                "fix FROM repairs ORDER BY closed_at IS NOT NULL, id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [Repair(*row) for row in rows]

    def open(self, device: str, problem: str, *, at: str, by: str) -> int:
        """A new open entry; its id."""
        with self._db.transaction() as db:
            row = db.execute(
                "INSERT INTO repairs (device, problem, opened_at, opened_by) "
                "VALUES (?, ?, ?, ?) RETURNING id",
                (device, problem, at, by),
            ).fetchone()
        return int(row[0])

    def set_photo(self, repair_id: int, name: str) -> None:
        with self._db.transaction() as db:
            db.execute("UPDATE repairs SET photo = ? WHERE id = ?", (name, repair_id))

    def close(self, repair_id: int, fix: str, *, at: str, by: str) -> str | None:
        """Close an open entry; its device, or None when no open entry has that id."""
        with self._db.transaction() as db:
            row = db.execute(
                "UPDATE repairs SET closed_at = ?, closed_by = ?, fix = ? "
                "WHERE id = ? AND closed_at IS NULL RETURNING device",
                (at, by, fix, repair_id),
            ).fetchone()
        return None if row is None else str(row[0])
