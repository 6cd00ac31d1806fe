"""Small persistent state: the mode, acknowledged alarms, the visit counter (key -> text)."""

from __future__ import annotations

from edge.store.database import Database


class SmallState(Database):
    """The ``state`` table (part of ``Store``)."""

    def get_state(self, key: str, default: str | None = None) -> str | None:
        with self.reading() as db:
            row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_state(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))
