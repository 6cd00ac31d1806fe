"""Roll-call ticks: who was seen at the assembly point, per evacuation, and by whom."""

from __future__ import annotations

from edge.store.database import Database


class RollCallTicks:
    """The ``rollcall_ticks`` table: ``store.rollcall``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def of(self, evacuation: str) -> dict[tuple[str, str], str]:
        """(kind, person) -> who ticked them, for one evacuation."""
        with self._db.reading() as db:
            rows = db.execute(
                "SELECT kind, person, by FROM rollcall_ticks WHERE evacuation = ?", (evacuation,)
            ).fetchall()
        return {(r[0], r[1]): r[2] for r in rows}

    def tick(self, evacuation: str, kind: str, person: str, *, by: str, at: str) -> None:
        with self._db.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO rollcall_ticks VALUES (?, ?, ?, ?, ?)",
                (evacuation, kind, person, by, at),
            )

    def untick(self, evacuation: str, kind: str, person: str) -> None:
        with self._db.transaction() as db:
            db.execute(
                "DELETE FROM rollcall_ticks WHERE evacuation = ? AND kind = ? AND person = ?",
                (evacuation, kind, person),
            )
